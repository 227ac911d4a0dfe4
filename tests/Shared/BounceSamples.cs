namespace Herald.Testing;

/// <summary>Sample reports as mail systems write them: an RFC 3464 DSN as Postfix lays it out, and
/// an RFC 5965 feedback report; for the parser's unit tests and the mailbox's integration tests.</summary>
internal static class BounceSamples
{
    public static string Dsn(string to, string action, string status, string diagnostic, string messageId = "<dsn-1@postfix.test>") => $"""
        Return-Path: <>
        Delivered-To: {to}
        From: MAILER-DAEMON@postfix.test (Mail Delivery System)
        Subject: Undelivered Mail Returned to Sender
        To: {to}
        Message-ID: {messageId}
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

        --B1
        Content-Type: text/plain

        I'm sorry to have to inform you that your message could not be delivered.

        --B1
        Content-Type: message/delivery-status

        Reporting-MTA: dns; postfix.test
        Arrival-Date: Mon,  7 Dec 2026 08:00:00 +0000

        Final-Recipient: rfc822; nobody@example.net
        Original-Recipient: rfc822;nobody@example.net
        Action: {action}
        Status: {status}
        Diagnostic-Code: {diagnostic}

        --B1
        Content-Type: text/rfc822-headers

        Return-Path: <{to}>
        From: Herald <herald@example.org>
        To: nobody@example.net
        Subject: Hello

        --B1--
        """.Replace("\r\n", "\n", StringComparison.Ordinal).Replace("\n", "\r\n", StringComparison.Ordinal);

    public static string Complaint(string originalMailFrom) => $"""
        From: feedback@isp.example
        To: abuse@example.org
        Subject: FW: Hello
        Message-ID: <arf-1@isp.example>
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=feedback-report; boundary="F1"

        --F1
        Content-Type: text/plain

        This is an email abuse report for an email message received from IP 192.0.2.1.

        --F1
        Content-Type: message/feedback-report

        Feedback-Type: abuse
        User-Agent: SomeGenerator/1.0
        Version: 1
        Original-Mail-From: <{originalMailFrom}>
        Original-Rcpt-To: <nobody@example.net>
        Arrival-Date: Mon, 7 Dec 2026 08:00:00 +0000
        Reported-Domain: example.org

        --F1
        Content-Type: message/rfc822

        From: Herald <herald@example.org>
        To: nobody@example.net
        Subject: Hello
        Message-ID: <original@example.org>

        Hello.

        --F1--
        """.Replace("\r\n", "\n", StringComparison.Ordinal).Replace("\n", "\r\n", StringComparison.Ordinal);
}
