using System.Text.RegularExpressions;
using Herald.Delivery;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Tests.Delivery;

/// <summary>RFC 2047 §2: "An 'encoded-word' may not be more than 75 characters long, including
/// 'charset', 'encoding', 'encoded-text', and delimiters." Strict readers (and spam filters) treat
/// a longer one as malformed.</summary>
public sealed partial class EncodedWordLengthTests
{
    static EncodedWordLengthTests() => Charsets.EnsureRegistered();

    public static TheoryData<string, string, string> Headers => new()
    {
        { "utf-8", "Änderung: Reisekostenrichtlinie für das Geschäftsjahr 2027 wurde überarbeitet und veröffentlicht", "Zentrale Benachrichtigungen der Personalabteilung Süd" },
        { "utf-8", "会議の通知：明日の全社会議は十時から大会議室で行われます。資料を事前にご確認ください。", "人事部からのお知らせ" },
        { "iso-8859-1", "Grüße aus Köln — Änderungen an der Datei Übersicht.xlsx, geprüft und für gültig erklärt", "Bücherei Müller-Lüdenscheidt" },
        { "iso-2022-jp", "会議の通知：明日の全社会議は十時から大会議室で行われます。資料を事前にご確認ください。", "人事部からのお知らせ" },
        { "windows-1252", "Ça change: «Politique de déplacement» mise à jour — révisée, approuvée, publiée", "Équipe des ressources humaines" },
        { "utf-8", "Pipeline failed: 🚨 build 4711 of main — ünïcödé everywhere, and a very long tail of words", "Herald 🔔" },
    };

    [Theory]
    [MemberData(nameof(Headers))]
    public void Every_encoded_word_in_subject_and_display_names_is_at_most_75_characters(string charset, string subject, string fromName)
    {
        var settings = EffectiveOutgoingSettings.Resolve(ScopePath.Root, [new ScopeOutgoingSettings(ScopePath.Root)
        {
            FromAddress = EmailAddress.Parse("herald@example.org"),
            FromName = fromName,
            Charset = charset,
        }]);

        var bytes = MessageComposer.ToBytes(MessageComposer.Compose(settings, [EmailAddress.Parse("bob@example.org")], subject, "Body", DateTimeOffset.UnixEpoch));
        var head = System.Text.Encoding.ASCII.GetString(bytes).Split("\r\n\r\n")[0];
        var words = EncodedWord().Matches(head).Select(m => m.Value).ToArray();

        Assert.NotEmpty(words);
        Assert.All(words, word => Assert.True(word.Length <= 75, $"{word.Length} characters: {word}"));
        Assert.All(head.Split("\r\n"), line => Assert.True(line.Length <= 998 && !line.Contains('\r', StringComparison.Ordinal) && !line.Contains('\n', StringComparison.Ordinal), line));
        Assert.All(head.Split("\r\n").Where(line => line.Contains("=?", StringComparison.Ordinal)), line => Assert.True(line.Length <= 76, $"{line.Length} characters: {line}"));
        var parsed = MimeKit.MimeMessage.Load(new MemoryStream(bytes), TestContext.Current.CancellationToken);
        Assert.Equal((subject, fromName), (parsed.Subject, parsed.From.Mailboxes.Single().Name));
    }

    [GeneratedRegex(@"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")]
    private static partial Regex EncodedWord();
}
