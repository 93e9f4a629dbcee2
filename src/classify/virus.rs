//! Virus-scanner notices: the message a content filter sends to the (claimed) sender of mail it
//! blocked. Viruses forge senders, so these are classic backscatter.
//!
//! Sources for the wording: amavisd-new's notification templates (`$notify_virus_sender_templ`,
//! "VIRUS (%V) IN MAIL FROM YOU"), MailScanner's `sender.virus.report.txt`, and the notices of
//! Symantec/Norton, Trend Micro InterScan/ScanMail, McAfee WebShield, Sophos, Kaspersky,
//! F-Secure, ClamAV milters and Exchange/Forefront.

use super::autoreply::Detection;
use super::signals::{contains_any, Signals};
use super::Kind;

/// Words in a subject that make it a candidate notice (weak: body must agree).
const SUBJECT_WORDS: &[&str] =
    &["virus", "viren", "wirus", "malware", "infected", "infiziert", "infecté", "ウイルス", "病毒", "вирус"];

/// Sentences that say a scanner found something (first lines of the body).
const FOUND: &[&str] = &[
    "virus found",
    "virus detected",
    "viruses detected",
    "virus was detected",
    "virus was found",
    "virus has been detected",
    "virus has been found",
    "viruses were detected",
    "viruses were found",
    "detected a virus",
    "found a virus",
    "contained a virus",
    "contains a virus",
    "virus detector has just been triggered",
    "infected with",
    "is infected",
    "was infected",
    "infected attachment",
    "infected file",
    "virus alert",
    "virus name",
    "virus identified",
    "malware was detected",
    "malware detected",
    "detected virus",
    "following virus",
    "viruses found",
    // Kaspersky: "… has detected an infected object"; Trend Micro: "virus(es)".
    "infected object",
    "has been infected",
    "virus(es)",
    "banned file",
    "virus gefunden",
    "virus entdeckt",
    "infiziert",
    "virus détecté",
    "infecté",
    "virus detectado",
    "infectado",
    "virus rilevato",
    "infetto",
    "ウイルスが検出",
    "ウイルスを検出",
];

/// Sentences that address the sender of the blocked mail: what makes it a notice to *us*, not a
/// news item about viruses.
const ABOUT_YOUR_MAIL: &[&str] = &[
    "you sent",
    "sent by you",
    "you have sent",
    "your message",
    "your e-mail",
    "your email",
    "your mail",
    "from you",
    "not delivered",
    "not been delivered",
    "quarantined",
    "has been blocked",
    "was blocked",
    "has been deleted",
    "was deleted",
    "has been removed",
    "was removed",
    "has been rejected",
    "was rejected",
    "ihre nachricht",
    "ihre e-mail",
    "von ihnen",
    "votre message",
    "su mensaje",
    "il suo messaggio",
    "uw bericht",
    "送信されたメール",
];

/// Disclaimers that mention viruses on ordinary mail ("No virus found in this outgoing message.
/// Checked by AVG"): removed before the tables are consulted.
const DISCLAIMERS: &[&str] = &[
    "no virus found in this",
    "no viruses found",
    "no virus was found",
    "scanned for viruses",
    "scanned for all viruses",
    "virus-free",
    "virus free",
    "free of viruses",
    "free from viruses",
];

/// Virus notice or not.
pub(crate) fn detect(s: &Signals<'_>) -> Option<Detection> {
    if let Some(hit) = amavis_subject(s.subject_unlisted()) {
        return Some(Detection::new(Kind::VirusNotice, hit));
    }
    let body = scrub(&s.body_top);
    let body_hit = contains_any(&body, FOUND) && contains_any(&body, ABOUT_YOUR_MAIL);
    let subject_hit = !s.subject_is_reply && contains_any(s.subject_unlisted(), SUBJECT_WORDS);
    // amavisd-new: `X-Amavis-Alert: INFECTED, message contains virus: …` or `BANNED, …`. Also
    // set on mail amavis delivers anyway, so it needs the subject or body to agree.
    if let Some(alert) = s.header("X-Amavis-Alert") {
        let alert = alert.to_ascii_lowercase();
        if (alert.starts_with("infected") || alert.starts_with("banned")) && (subject_hit || body_hit) {
            return Some(Detection::new(Kind::VirusNotice, "X-Amavis-Alert: INFECTED"));
        }
    }
    if !body_hit {
        return None;
    }
    if subject_hit {
        return Some(Detection::new(Kind::VirusNotice, "subject:virus + body:virus notice"));
    }
    let automated = s.automated.as_deref()?;
    Some(Detection::new(Kind::VirusNotice, format!("{automated} + body:virus notice")))
}

/// amavisd-new notice subjects: "VIRUS (Eicar-Test-Signature) IN MAIL FROM YOU",
/// "VIRUS (W32/Netsky) IN MAIL TO YOU (from <…>)", "BANNED FILENAME (x.pif) IN MAIL FROM YOU",
/// amavisd 2002-era "VIRUS IN YOUR MAIL TO <…>", and MailScanner's "Warning: E-mail viruses detected".
fn amavis_subject(subject: &str) -> Option<&'static str> {
    let in_mail = subject.contains(") in mail from you") || subject.contains(") in mail to you");
    if in_mail && (subject.starts_with("virus (") || subject.starts_with("banned") || subject.starts_with("infected ("))
    {
        return Some("subject:VIRUS (…) IN MAIL");
    }
    if subject.starts_with("virus in your mail") {
        return Some("subject:VIRUS IN YOUR MAIL");
    }
    if subject.starts_with("warning: e-mail viruses detected") {
        return Some("subject:Warning: E-mail viruses detected");
    }
    None
}

/// The body with the antivirus disclaimers cut out.
fn scrub(body: &str) -> String {
    let mut out = body.to_string();
    for d in DISCLAIMERS {
        while let Some(at) = out.find(d) {
            out.replace_range(at..at + d.len(), " ");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::classify::autoreply::detect;
    use crate::classify::Kind;
    use mail_parser::MessageParser;

    fn kind(raw: &str) -> Option<Kind> {
        detect(&MessageParser::default().parse(raw.as_bytes()).expect("parses")).map(|d| d.kind)
    }

    #[test]
    fn amavis_subjects_decide_alone() {
        for subject in [
            "VIRUS (Eicar-Test-Signature) IN MAIL FROM YOU",
            "VIRUS (W32/Netsky-P) IN MAIL TO YOU (from <a@b.example>)",
            "BANNED FILENAME (doc.pif) IN MAIL FROM YOU",
            "Warning: E-mail viruses detected",
        ] {
            let raw = format!("From: a@x.example\nSubject: {subject}\n\nHello.\n");
            assert_eq!(kind(&raw), Some(Kind::VirusNotice), "{subject}");
        }
    }

    #[test]
    fn amavis_alert_needs_the_text_to_agree() {
        let delivered = "From: a@x.example\nX-Amavis-Alert: INFECTED, message contains virus: Eicar\n\
                         Subject: lunch\n\nSee you.\n";
        assert_eq!(kind(delivered), None);
        let notice = "From: a@x.example\nX-Amavis-Alert: INFECTED, message contains virus: Eicar\n\
                      Subject: Virus alert\n\nHello.\n";
        assert_eq!(kind(notice), Some(Kind::VirusNotice));
    }

    #[test]
    fn vendor_notices() {
        let symantec =
            "From: SMTP Gateway <gw@x.example>\nSubject: Symantec AntiVirus found a virus in a message you sent\n\n\
                        Symantec AntiVirus found a virus in an attachment you sent to bob@x.example.\n\
                        Infected file: doc.scr. Virus name: W32.Netsky.P@mm. The file was deleted.\n";
        assert_eq!(kind(symantec), Some(Kind::VirusNotice));
        let mailscanner = "Return-Path: <>\nFrom: MailScanner <postmaster@x.example>\nSubject: Re: hello\n\n\
                           Our virus detector has just been triggered by a message you sent:\n";
        assert_eq!(kind(mailscanner), Some(Kind::VirusNotice));
    }

    #[test]
    fn news_about_viruses_is_not_a_notice() {
        let news = "From: a@x.example\nSubject: West Nile virus transmitted in breast milk\n\n\
                    A woman infected with the virus passed it to her child.\n";
        assert_eq!(kind(news), None);
        let disclaimer = "Return-Path: <>\nFrom: a@x.example\nSubject: lunch\n\nSee you at noon about your message.\n\
                          ---\nNo virus found in this outgoing message. Checked by AVG.\n";
        assert_eq!(kind(disclaimer), None);
        let reply = "From: a@x.example\nSubject: Re: virus detected in your message?\n\n\
                     Was your message infected with something? The filter says a virus was found.\n";
        assert_eq!(kind(reply), None);
    }
}
