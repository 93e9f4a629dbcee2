//! The milter stages (indymilter callbacks) wired to the session, [`outbound`] stamping and
//! [`inbound`] judging. Every internal failure answers 451 4.3.0: the MTA keeps the message and
//! the client tries again, so no mail is lost.

use std::ffi::{CStr, CString};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use indymilter::{
    Actions, Callbacks, Context, ContextActions, EomContext, MacroStage, NegotiateContext, ProtoOpts, SetErrorReply,
    SmtpReply, SocketInfo, Status,
};

use super::inbound::{self, Disposition};
use super::outbound;
use super::session::{Direction, Message, Outbound, Refused, Session, VERDICT_HEADER};
use super::smtp_spf::{self, OnFail, SCORE_HEADER};
use super::Milter;
use crate::day::Day;
use crate::metrics::prometheus as metrics;
use crate::policy::{Action, Verdict};

/// The callbacks of every session, sharing `milter`.
pub fn callbacks(milter: Arc<Milter>) -> Callbacks<Session> {
    let (m1, m2, m3, m4) = (Arc::clone(&milter), Arc::clone(&milter), Arc::clone(&milter), Arc::clone(&milter));
    Callbacks::new()
        .on_negotiate(|cx, _, mta_opts| Box::pin(negotiate(cx, mta_opts)))
        .on_connect(move |cx, name, socket| {
            let m = Arc::clone(&m1);
            Box::pin(async move { connect(&m, cx, name, socket) })
        })
        .on_helo(|cx, name| Box::pin(async move { helo(cx, name) }))
        .on_mail(move |cx, args| {
            let m = Arc::clone(&m2);
            Box::pin(async move { mail(&m, cx, args).await })
        })
        .on_rcpt(move |cx, args| {
            let m = Arc::clone(&m3);
            Box::pin(async move { rcpt(&m, cx, args) })
        })
        // Nothing to do at DATA, but without this stage Postfix sends the DATA macros alone and
        // nothing answers them: Nagle on its side then holds the first header until our delayed
        // ACK, ~40 ms per message. With it, the reply acknowledges at once.
        .on_data(|_| Box::pin(async { Status::Continue }))
        .on_header(|cx, name, value| Box::pin(async move { header(cx, name, value) }))
        .on_body(|cx, chunk| Box::pin(async move { body(cx, &chunk) }))
        .on_eom(move |cx| {
            let m = Arc::clone(&m4);
            Box::pin(async move { eom(&m, cx).await })
        })
        .on_abort(|cx| Box::pin(async move { abort(cx) }))
}

/// Asks for the actions we take and the macros we read: `j` (our host name) at connect,
/// `{auth_authen}` at MAIL FROM, the queue id `i` at end of message.
async fn negotiate(cx: &mut NegotiateContext<Session>, mta_opts: ProtoOpts) -> Status {
    cx.requested_actions |= Actions::ADD_HEADER | Actions::CHANGE_HEADER | Actions::CHANGE_SENDER | Actions::QUARANTINE;
    let macros = [(MacroStage::Connect, "j"), (MacroStage::Mail, "{auth_authen}"), (MacroStage::Eom, "i")];
    for (stage, names) in macros {
        if let Ok(names) = CString::new(names) {
            cx.requested_macros.insert(stage, names);
        }
    }
    // The body of mail we do not judge is skipped when the MTA allows it (Postfix does).
    cx.data = Some(Session { skip: mta_opts.contains(ProtoOpts::SKIP), ..Session::default() });
    Status::Continue
}

fn text(s: &CStr) -> String {
    s.to_string_lossy().into_owned()
}

fn macro_value(cx: &Context<Session>, name: &CStr) -> Option<String> {
    cx.macros.get(name).map(text).filter(|v| !v.is_empty())
}

fn connect(milter: &Milter, cx: &mut Context<Session>, name: CString, socket: SocketInfo) -> Status {
    let receiver = macro_value(cx, c"j").or_else(|| milter.config.sign.myorigin.clone());
    let client = match socket {
        SocketInfo::Inet(addr) => Some(addr.ip()),
        SocketInfo::Unix(_) | SocketInfo::Unknown => None,
    };
    cx.data.get_or_insert_with(Session::default).connect(client, &text(&name), receiver);
    Status::Continue
}

fn helo(cx: &mut Context<Session>, name: CString) -> Status {
    cx.data.get_or_insert_with(Session::default).helo = Some(text(&name));
    Status::Continue
}

/// MAIL FROM: which way the message goes, and for inbound mail the SPF of the connection.
async fn mail(milter: &Milter, cx: &mut Context<Session>, args: Vec<CString>) -> Status {
    let auth = macro_value(cx, c"{auth_authen}");
    let mut args = args.iter().map(|a| text(a));
    let sender = args.next().unwrap_or_default();
    let session = cx.data.get_or_insert_with(Session::default);
    session.mail(&sender, args.collect(), auth.as_deref(), &milter.config.milter.sign_networks);
    let Some(message) = session.message.as_ref() else { return Status::Continue };
    if let (Direction::Inbound, Some(checker)) = (&message.direction, &milter.spf) {
        let facts = smtp_spf::facts(session, &message.sender, false);
        let outcome = checker.check(&facts).await;
        if let OnFail::Reject(why) = smtp_spf::on_fail(&outcome, &milter.config) {
            tracing::info!(client = ?session.client, sender = message.sender, why, "refused at MAIL FROM: SPF fail");
            count("mail", "spf-fail", "reject");
            session.message = None;
            return refuse(&mut cx.reply, "550", "5.7.23", &why);
        }
        if let Some(message) = session.message.as_mut() {
            message.spf = Some(outcome);
        }
    }
    Status::Continue
}

/// RCPT TO: a BATV-tagged recipient of a protected domain is verified now; a bad tag is
/// refused (this recipient only).
fn rcpt(milter: &Milter, cx: &mut Context<Session>, args: Vec<CString>) -> Status {
    let recipient = args.first().map(|a| text(a)).unwrap_or_default();
    let Some(session) = cx.data.as_mut() else { return Status::Continue };
    let today = Day::from_unix_seconds(now());
    let pipeline = milter.pipeline();
    let keys = pipeline.keyring().map(|ring| ring.verifying_keys(today)).unwrap_or_default();
    match session.rcpt(&recipient, &milter.config, &keys, today) {
        Ok(()) => Status::Continue,
        Err(Refused { result, why }) => {
            let sender = session.message.as_ref().map(|m| m.sender.as_str()).unwrap_or_default();
            tracing::info!(recipient, sender, why, "refused at RCPT TO");
            count("rcpt", result, "reject");
            refuse(&mut cx.reply, "550", "5.7.1", &why)
        }
    }
}

fn header(cx: &mut Context<Session>, name: CString, value: CString) -> Status {
    if let Some(session) = cx.data.as_mut() {
        session.header(&text(&name), &text(&value));
    }
    Status::Continue
}

/// The body is kept only for the judgement, and only up to its limit.
fn body(cx: &mut Context<Session>, chunk: &[u8]) -> Status {
    let Some(session) = cx.data.as_mut() else { return Status::Continue };
    if session.body(chunk) || !session.skip {
        Status::Continue
    } else {
        Status::Skip
    }
}

fn abort(cx: &mut Context<Session>) -> Status {
    if let Some(session) = cx.data.as_mut() {
        session.abort();
    }
    Status::Continue
}

/// End of message: stamp outbound mail, judge inbound mail. An error of ours is a tempfail.
async fn eom(milter: &Milter, cx: &mut EomContext<Session>) -> Status {
    let queue_id = cx.macros.get(c"i").map(text).unwrap_or_default();
    let Some(session) = cx.data.as_mut() else { return Status::Continue };
    let Some(message) = session.message.take() else { return Status::Continue };
    let session = session.clone();
    let result = match &message.direction {
        Direction::Outbound(why) => sign(milter, cx, &message, why, &queue_id).await,
        Direction::Inbound => judge(milter, cx, &session, message, &queue_id).await,
    };
    match result {
        Ok(status) => status,
        Err(err) => {
            tracing::error!(queue_id, "{err} — answered 451 4.3.0, the client will retry");
            count("eom", "error", "tempfail");
            let _ = cx.reply.set_error_reply("451", Some("4.3.0"), ["backscatter milter: temporary failure"]);
            Status::Tempfail
        }
    }
}

/// Why end of message could not be handled (each one answers 451).
#[derive(Debug, thiserror::Error)]
enum EomError {
    #[error("cannot sign: {0}")]
    Keyring(#[from] crate::keys::KeyringError),
    #[error("cannot get a random nonce from the operating system: {0}")]
    Random(String),
    #[error("the MTA refused a milter action: {0}")]
    Action(#[from] indymilter::ActionError),
}

async fn sign(
    milter: &Milter,
    cx: &mut EomContext<Session>,
    message: &Message,
    why: &Outbound,
    queue_id: &str,
) -> Result<Status, EomError> {
    if !milter.config.sign.enabled {
        return Ok(Status::Continue);
    }
    let pipeline = milter.pipeline();
    let key = match pipeline.keyring() {
        Some(ring) => ring.require_signing_key()?.as_key(),
        None => return Err(EomError::Keyring(crate::keys::KeyringError::NoLocation)),
    };
    let nonce = getrandom::u64().map_err(|e| EomError::Random(e.to_string()))?;
    let plan = outbound::plan(message, &milter.config, &key, Day::from_unix_seconds(now()), nonce);
    let mut fields = plan.fields.iter();
    if let Some((name, value)) = fields.next() {
        // First in the header, as the drop-in puts it (DESIGN §4.2).
        cx.actions.insert_header(0, name.as_str(), value.as_str()).await?;
    }
    for (name, value) in fields {
        cx.actions.add_header(name.as_str(), value.as_str()).await?;
    }
    if let Some((sender, params)) = &plan.change_sender {
        cx.actions.change_sender(sender.as_str(), params.as_deref()).await?;
    }
    if let Some(entry) = &plan.sent {
        log_sent(milter, entry, queue_id);
    }
    count("eom", "outbound", "sign");
    let why = match why {
        Outbound::Authenticated(user) => format!("authenticated as {user}"),
        Outbound::SignNetwork(ip) => format!("client {ip} in sign_networks"),
    };
    let envid = plan.change_sender.as_ref().is_some_and(|(_, p)| p.is_some());
    tracing::info!(queue_id, sender = message.sender, why, envid, "signed; sender {}", plan.tag);
    Ok(Status::Continue)
}

async fn judge(
    milter: &Milter,
    cx: &mut EomContext<Session>,
    session: &Session,
    message: Message,
    queue_id: &str,
) -> Result<Status, EomError> {
    let config = &milter.config;
    let mut trace = Vec::new();
    if let Some(outcome) = &message.spf {
        let facts = smtp_spf::facts(session, &message.sender, false);
        trace.extend(smtp_spf::received_spf(outcome, &facts, config));
        if let OnFail::Score(score) = smtp_spf::on_fail(outcome, config) {
            trace.push((SCORE_HEADER.to_owned(), score.to_string()));
        }
    }
    if !message.judged() {
        for (name, value) in &trace {
            cx.actions.insert_header(0, name.as_str(), value.as_str()).await?;
        }
        return Ok(Status::Continue);
    }
    let now = now();
    let bytes = inbound::judged_copy(session, &message, now);
    let j = inbound::judge(milter, &bytes, now).await;
    let disposition = inbound::disposition(&j.decision, config.milter.action);
    let action = match &disposition {
        Disposition::Reject(_) => "reject",
        Disposition::Quarantine(_) => "quarantine",
        Disposition::Accept if j.decision.verdict == Verdict::Backscatter && j.decision.action == Action::Move => {
            "header"
        }
        Disposition::Accept => "accept",
    };
    count("eom", j.decision.verdict.as_str(), action);
    tracing::info!(
        queue_id,
        client = ?session.client,
        sender = message.sender,
        message_id = j.message_id.as_deref().unwrap_or(""),
        kind = j.classification.kind.as_str(),
        verdict = j.decision.verdict.as_str(),
        action = j.decision.action.as_str(),
        why = j.decision.why,
        disposition = ?disposition,
        "verdict"
    );
    if let Disposition::Reject(text) = &disposition {
        return Ok(refuse(&mut cx.reply, "550", "5.7.1", text));
    }
    // Someone else's verdict must not pass for ours: every incoming copy goes (last first, so
    // the indexes stay right), then ours is added.
    for index in (1..=message.incoming_verdicts).rev() {
        cx.actions.change_header(VERDICT_HEADER, index, None::<&str>).await?;
    }
    for (name, value) in &trace {
        cx.actions.insert_header(0, name.as_str(), value.as_str()).await?;
    }
    cx.actions.add_header(VERDICT_HEADER, inbound::verdict_header(&j.decision)).await?;
    if let Disposition::Quarantine(reason) = disposition {
        cx.actions.quarantine(reason).await?;
    }
    Ok(Status::Continue)
}

/// Appends a signed message's line to the sent log below the state dir. A failure never holds
/// the mail (it is already signed and on its way): a warning and
/// `backscatter_sent_log_errors_total`; its bounces are judged by the carrier rule alone.
fn log_sent(milter: &Milter, entry: &crate::evidence::sentlog::Entry, queue_id: &str) {
    let result = match milter.config.state_dir_or_default() {
        Some(state_dir) => crate::evidence::sentlog::file::append(&state_dir, entry).map_err(|e| e.to_string()),
        None => Err("no state_dir and no $HOME".to_owned()),
    };
    if let Err(err) = result {
        metrics::get().sent_log_errors.inc();
        tracing::warn!(queue_id, "sent log: {err} — the message was signed and goes on unlogged");
    }
}

/// Counts one outcome in `backscatter_milter_verdicts_total{stage,verdict,action}`.
fn count(stage: &'static str, verdict: &'static str, action: &'static str) {
    metrics::get().milter_verdicts.get_or_create(&metrics::Milter { stage, verdict, action }).inc();
}

/// Sets the reply `code xcode text` and refuses.
fn refuse(reply: &mut SmtpReply, code: &str, xcode: &str, text: &str) -> Status {
    let text = inbound::reply_text(text);
    match reply.set_error_reply(code, Some(xcode), [text.as_str()]) {
        Ok(()) => Status::Reject,
        Err(err) => {
            tracing::error!(code, xcode, "cannot set the reply {text:?}: {err} — tempfail instead");
            Status::Tempfail
        }
    }
}

/// The clock, read at the edge: Unix seconds.
fn now() -> i64 {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    i64::try_from(seconds).unwrap_or(i64::MAX)
}
