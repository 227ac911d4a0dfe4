using System.Text;
using Herald.Bounces;
using Herald.Testing;
using MimeKit;

namespace Herald.Tests.Bounces;

/// <summary>Reading sample reports: RFC 3464 DSNs as Postfix writes them, an RFC 5965 complaint,
/// the common non-standard bounce, and mail that is none of those. The real Postfix DSN is read in
/// the integration tests (BounceMailboxTests).</summary>
public sealed class BounceParserTests
{
    public const string Token = "aeaztinsyplgldqwcqrtmkxlnr6aaahwdzh3i2dy2vmkwqsm2cw";

    private static string Address => $"bounces+{Token[..47]}@bounces.example.org";

    private static MimeMessage Parse(string text) => MimeMessage.Load(new MemoryStream(Encoding.UTF8.GetBytes(text)));

    [Fact]
    public void A_permanent_failure_after_delivery_is_failed_with_its_status_and_diagnostic()
    {
        var report = BounceParser.Parse(Parse(BounceSamples.Dsn(Address, "failed", "5.1.1", "smtp; 550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown")));

        Assert.Equal(BounceKind.Failed, report.Kind);
        Assert.Equal("5.1.1", report.Status);
        Assert.Equal("550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown", report.Diagnostic);
        Assert.Equal(550, report.Code);
        Assert.Equal("dsn-1@postfix.test", report.ReportMessageId);
        Assert.Equal([Address], report.Addresses);
        Assert.Contains("5.1.1", report.Reply, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("delayed", "4.4.1", "smtp; 451 4.4.1 try again later")]
    [InlineData("failed", "4.4.7", "x-unix; gave up")]
    public void A_temporary_report_is_delayed(string action, string status, string diagnostic)
    {
        var report = BounceParser.Parse(Parse(BounceSamples.Dsn(Address, action, status, diagnostic)));

        Assert.Equal(BounceKind.Delayed, report.Kind);
        Assert.Equal(status, report.Status);
    }

    [Fact]
    public void A_delivery_notice_is_not_a_bounce()
    {
        Assert.Equal(BounceKind.Unrecognised, BounceParser.Parse(Parse(BounceSamples.Dsn(Address, "delivered", "2.0.0", "smtp; 250 ok"))).Kind);
    }

    [Fact]
    public void A_bounce_address_is_found_in_the_returned_headers_when_the_report_is_addressed_elsewhere()
    {
        var text = BounceSamples.Dsn(Address, "failed", "5.1.1", "smtp; 550 no").Replace($"Delivered-To: {Address}", "Delivered-To: postmaster@example.org", StringComparison.Ordinal)
            .Replace($"To: {Address}", "To: postmaster@example.org", StringComparison.Ordinal);

        Assert.Equal([Address], BounceParser.Parse(Parse(text)).Addresses);
    }

    [Fact]
    public void A_feedback_report_is_a_complaint_naming_the_original_envelope_sender()
    {
        var report = BounceParser.Parse(Parse(BounceSamples.Complaint(Address)));

        Assert.Equal(BounceKind.Complaint, report.Kind);
        Assert.Equal("abuse", report.Status);
        Assert.Equal([Address], report.Addresses);
    }

    [Fact]
    public void A_plain_text_bounce_with_a_status_is_read_as_a_failure()
    {
        var report = BounceParser.Parse(Parse($"""
            From: MAILER-DAEMON@mx.example
            To: {Address}
            Subject: Undelivered Mail Returned to Sender
            Content-Type: text/plain

            This is the mail system at host mx.example.

            <nobody@example.net>: host mx2.example said: 550 5.1.1 User unknown (in reply to RCPT TO command)

            """));

        Assert.Equal(BounceKind.Failed, report.Kind);
        Assert.Equal("5.1.1", report.Status);
        Assert.Equal([Address], report.Addresses);
    }

    [Fact]
    public void Ordinary_mail_to_the_bounce_address_is_not_a_report()
    {
        var report = BounceParser.Parse(Parse($"""
            From: someone@example.net
            To: {Address}
            Subject: Out of office
            Content-Type: text/plain

            I am away until 5.1.2027.

            """));

        Assert.Equal(BounceKind.Unrecognised, report.Kind);
    }

    [Fact]
    public void A_report_with_more_parts_than_read_is_not_looked_into()
    {
        var message = new MimeMessage();
        var mixed = new Multipart("mixed");
        for (var i = 0; i <= BounceParser.MaxParts; i++)
        {
            mixed.Add(new TextPart("plain") { Text = "part" });
        }

        message.Body = mixed;

        Assert.Equal(BounceKind.Unrecognised, BounceParser.Parse(message).Kind);
    }

    [Fact]
    public void A_huge_diagnostic_is_cut()
    {
        var report = BounceParser.Parse(Parse(BounceSamples.Dsn(Address, "failed", "5.1.1", "smtp; 550 5.1.1 " + new string('x', 5_000))));

        Assert.Equal(BounceParser.MaxFieldLength, report.Diagnostic!.Length);
    }
}
