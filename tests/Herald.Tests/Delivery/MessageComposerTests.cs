using Herald.Delivery;
using Herald.Scopes;
using Herald.Settings;
using MimeKit;

namespace Herald.Tests.Delivery;

public sealed class MessageComposerTests
{
    static MessageComposerTests() => Charsets.EnsureRegistered();

    private static EffectiveOutgoingSettings Settings(string charset, string? replyTo = "help@example.org") =>
        EffectiveOutgoingSettings.Resolve(ScopePath.Root, [new ScopeOutgoingSettings(ScopePath.Root)
        {
            FromAddress = EmailAddress.Parse("herald@example.org"),
            FromName = "Herald Alerts",
            ReplyTo = replyTo is null ? null : EmailAddress.Parse(replyTo),
            Charset = charset,
        }]);

    private static string Render(MimeMessage message)
    {
        using var stream = new MemoryStream();
        message.WriteTo(stream);
        return System.Text.Encoding.ASCII.GetString(stream.ToArray());
    }

    [Fact]
    public void Iso_2022_jp_subject_and_body_are_encoded_in_that_charset()
    {
        var message = MessageComposer.Compose(Settings("iso-2022-jp"), [EmailAddress.Parse("bob@example.org")], "会議の通知", "明日の会議は十時からです。", DateTimeOffset.UnixEpoch);
        var raw = Render(message);

        Assert.Contains("Subject: =?iso-2022-jp?", raw, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("charset=iso-2022-jp", raw, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Content-Transfer-Encoding", raw, StringComparison.Ordinal); // 7bit, the default
        Assert.Contains("\u001b$B", raw, StringComparison.Ordinal); // ISO-2022-JP's JIS X 0208 escape in the body
        var parsed = MimeMessage.Load(new MemoryStream(System.Text.Encoding.ASCII.GetBytes(raw)), TestContext.Current.CancellationToken);
        Assert.Equal("会議の通知", parsed.Subject);
        Assert.Equal("明日の会議は十時からです。", parsed.TextBody?.TrimEnd());
    }

    [Fact]
    public void Latin1_body_is_encoded_as_iso_8859_1_octets_with_a_7bit_transfer_encoding()
    {
        var message = MessageComposer.Compose(Settings("iso-8859-1"), [EmailAddress.Parse("bob@example.org")], "Grüße", "Schöne Grüße", DateTimeOffset.UnixEpoch);
        var raw = Render(message);

        Assert.Contains("charset=iso-8859-1", raw, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Subject: =?iso-8859-1?", raw, StringComparison.OrdinalIgnoreCase);
        var body = Assert.IsType<TextPart>(message.Body);
        Assert.Contains(body.ContentTransferEncoding, new[] { ContentEncoding.Base64, ContentEncoding.QuotedPrintable });
        using var octets = new MemoryStream();
        body.Content!.DecodeTo(octets, TestContext.Current.CancellationToken);
        Assert.Equal(System.Text.Encoding.Latin1.GetBytes("Schöne Grüße"), octets.ToArray());
    }

    [Fact]
    public void Text_the_charset_cannot_carry_falls_back_to_utf8_instead_of_question_marks()
    {
        var message = MessageComposer.Compose(Settings("iso-8859-1"), [EmailAddress.Parse("bob@example.org")], "日本語", "日本語", DateTimeOffset.UnixEpoch);

        Assert.Equal("utf-8", Assert.IsType<TextPart>(message.Body).ContentType.Charset, ignoreCase: true);
        Assert.Equal("日本語", message.TextBody);
    }

    [Fact]
    public void From_and_reply_to_follow_the_settings()
    {
        var message = MessageComposer.Compose(Settings("utf-8"), [EmailAddress.Parse("bob@example.org")], "s", "b", DateTimeOffset.UnixEpoch);

        var from = Assert.Single(message.From.Mailboxes);
        Assert.Equal(("Herald Alerts", "herald@example.org"), (from.Name, from.Address));
        Assert.Equal("help@example.org", Assert.Single(message.ReplyTo.Mailboxes).Address);
        Assert.EndsWith("@example.org", message.MessageId, StringComparison.Ordinal);
    }

    [Fact]
    public void The_message_id_is_the_outbox_id_at_the_from_domain_and_the_date_is_the_submission_time()
    {
        var at = new DateTimeOffset(2026, 11, 23, 9, 30, 0, TimeSpan.Zero);
        var message = MessageComposer.Compose(Settings("utf-8"), new MessageContent([EmailAddress.Parse("bob@example.org")], "s", "b", null), at, "0193abcd");

        Assert.Equal("0193abcd@example.org", message.MessageId);
        Assert.Contains("Message-Id: <0193abcd@example.org>", Render(message), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(at, message.Date);
    }
}
