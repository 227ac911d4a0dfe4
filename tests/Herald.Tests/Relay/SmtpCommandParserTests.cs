using System.Text;
using Herald.Relay;

namespace Herald.Tests.Relay;

public sealed class SmtpCommandParserTests
{
    private static ParsedCommand Parse(string line) => SmtpCommandParser.Parse(Encoding.UTF8.GetBytes(line), 512);

    private static string? Code(ParsedCommand parsed) => parsed.Error is { } e ? $"{e.Code} {e.EnhancedCode}" : null;

    [Fact]
    public void Mail_with_size_body_and_smtputf8_is_parsed()
    {
        var mail = Assert.IsType<MailCommand>(Parse("mail from:<jörg@example.org> SIZE=1234 BODY=8BITMIME SMTPUTF8 AUTH=<>").Command);

        Assert.Equal(new MailCommand("jörg@example.org", 1234, EightBitMime: true, SmtpUtf8: true), mail);
    }

    [Theory]
    [InlineData("MAIL FROM:<>", "")]
    [InlineData("MAIL FROM: <a@example.org>", "a@example.org")]
    [InlineData("MAIL FROM:<\"john doe\"@example.org>", "\"john doe\"@example.org")]
    [InlineData("MAIL FROM:<a@[192.0.2.1]>", "a@[192.0.2.1]")]
    [InlineData("MAIL FROM:<a@[IPv6:2001:db8::1]>", "a@[IPv6:2001:db8::1]")]
    public void Sender_is_taken_literally(string line, string expected) =>
        Assert.Equal(expected, Assert.IsType<MailCommand>(Parse(line).Command).Sender);

    [Theory]
    [InlineData("RCPT TO:<Postmaster>", "Postmaster")]
    [InlineData("RCPT TO:<first.last+tag@Sub.Example.org>", "first.last+tag@Sub.Example.org")]
    public void Recipient_is_taken_literally(string line, string expected) =>
        Assert.Equal(expected, Assert.IsType<RcptCommand>(Parse(line).Command).Recipient);

    [Theory]
    [InlineData("RCPT TO:<b%c@a.example>", "553 5.7.1")]
    [InlineData("RCPT TO:<@a.example:b@c.example>", "553 5.7.1")]
    [InlineData("RCPT TO:<\"b@c.example\"@a.example>", "553 5.7.1")]
    [InlineData("RCPT TO:<c.example!b@a.example>", "553 5.7.1")]
    [InlineData("RCPT TO:<c.example!b>", "553 5.7.1")]
    [InlineData("RCPT TO:<b@c.example@a.example>", "501 5.1.3")]
    [InlineData("RCPT TO:<>", "501 5.1.3")]
    [InlineData("RCPT TO:<a..b@example.org>", "501 5.1.3")]
    [InlineData("RCPT TO:<a@-example.org>", "501 5.1.3")]
    [InlineData("RCPT TO:<a@[999.1.1.1]>", "501 5.1.3")]
    [InlineData("RCPT TO:<a@example.org> NOTIFY=NEVER", "555 5.5.4")]
    [InlineData("MAIL FROM:<a@example.org> RET=FULL", "555 5.5.4")]
    [InlineData("MAIL FROM:<a@example.org> SIZE=big", "501 5.5.4")]
    [InlineData("MAIL FROM:<a@example.org> BODY=BINARYMIME", "501 5.5.4")]
    [InlineData("MAIL FROM:a@example.org", "501 5.1.7")]
    [InlineData("MAIL TO:<a@example.org>", "501 5.5.4")]
    [InlineData("DATA now", "501 5.5.4")]
    [InlineData("EHLO", "501 5.5.4")]
    [InlineData("XYZZY", "500 5.5.2")]
    public void Malformed_or_ambiguous_command_gets_its_reply(string line, string expected) =>
        Assert.Equal(expected, Code(Parse(line)));

    [Fact]
    public void Command_line_over_512_octets_is_refused_but_a_long_auth_line_is_not()
    {
        Assert.Equal("500 5.5.2", Code(Parse("NOOP " + new string('x', 506))));
        Assert.Null(Code(Parse("NOOP " + new string('x', 505))));
        Assert.IsType<AuthCommand>(Parse("AUTH PLAIN " + new string('A', 2000)).Command);
    }

    [Fact]
    public void Invalid_utf8_is_an_unknown_command() =>
        Assert.Equal("500 5.5.2", Code(SmtpCommandParser.Parse([0x4D, 0x41, 0x49, 0x4C, 0x20, 0xFF, 0xFE], 512)));

    [Fact]
    public void Auth_initial_response_never_appears_in_its_text()
    {
        var auth = Assert.IsType<AuthCommand>(Parse("AUTH PLAIN AGFwcABzZWNyZXQ=").Command);

        Assert.Equal("AUTH PLAIN", auth.ToString());
    }

    [Fact]
    public void International_address_is_recognised() =>
        Assert.True(SmtpPath.IsInternational("zoë@herald.test") && !SmtpPath.IsInternational("zoe@herald.test"));

    [Fact]
    public void Multiline_reply_carries_the_enhanced_code_on_every_line() =>
        Assert.Equal("250-2.0.0 one\r\n250 2.0.0 two\r\n"u8.ToArray(), RelaySession.Format(new SmtpReply(250, "2.0.0", "one\ntwo")));
}
