using Herald.Relay;
using Herald.Scopes;

namespace Herald.Tests.Relay;

/// <summary>The relay's configuration rules that need no storage: what an open relay is, how
/// account names are normalised, and how client-supplied text reaches a log line.</summary>
public sealed class RelayRulesTests
{
    private static RelayListenerSettings Listener(string listen, RelayAccessMode access, string[] entries, RelayAuthMode auth = RelayAuthMode.None, string[]? recipientDomains = null) =>
        new(listen, ScopePath.Root, access, entries, auth, [], recipientDomains ?? [], AuthWithoutTls: false);

    public static TheoryData<string, RelayAccessMode, string[], RelayAuthMode, string[], string?> Listeners => new()
    {
        // Anonymous, reachable from other machines, no recipient domains, admits anybody: open.
        { "0.0.0.0:25", RelayAccessMode.AllExcept, [], RelayAuthMode.None, [], "access" },
        { "[::]:25", RelayAccessMode.AllExcept, ["192.0.2.7"], RelayAuthMode.None, [], "access" },
        { "10.0.0.5:25", RelayAccessMode.OnlyList, ["10.0.0.0/8", "0.0.0.0/0"], RelayAuthMode.None, [], "entries[1]" },
        { "0.0.0.0:25", RelayAccessMode.OnlyList, ["0.0.0.0/1", "128.0.0.0/1"], RelayAuthMode.None, [], "entries[0]" },
        { "[::]:25", RelayAccessMode.OnlyList, ["::/0"], RelayAuthMode.None, [], "entries[0]" },
        // Any one of the four missing: not open.
        { "127.0.0.1:25", RelayAccessMode.AllExcept, [], RelayAuthMode.None, [], null },
        { "[::1]:25", RelayAccessMode.AllExcept, [], RelayAuthMode.None, [], null },
        { "0.0.0.0:25", RelayAccessMode.AllExcept, [], RelayAuthMode.Required, [], null },
        { "0.0.0.0:25", RelayAccessMode.AllExcept, [], RelayAuthMode.None, ["example.org"], null },
        { "0.0.0.0:25", RelayAccessMode.OnlyList, ["10.0.0.0/8", "192.168.0.0/16", "fc00::/7", "apps.example.org"], RelayAuthMode.None, [], null },
    };

    [Theory]
    [MemberData(nameof(Listeners))]
    public void An_anonymous_listener_reachable_beyond_loopback_that_admits_anybody_without_recipient_domains_is_an_open_relay(
        string listen, RelayAccessMode access, string[] entries, RelayAuthMode auth, string[] recipientDomains, string? field)
    {
        var problem = Listener(listen, access, entries, auth, recipientDomains).OpenRelayProblem();

        Assert.Equal(field, problem?.Field);
        if (problem is not null)
        {
            Assert.Contains("open relay", problem.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_default_listener_is_not_an_open_relay() =>
        Assert.Null(RelaySettingsService.DefaultListener.OpenRelayProblem());

    [Theory]
    [InlineData("scanner", "scanner")]
    [InlineData(" scanner", "scanner")]
    [InlineData("scanner\t\r\n", "scanner")]
    [InlineData("Scan.ner+hr@example.org", "Scan.ner+hr@example.org")]
    public void A_relay_user_name_is_trimmed_once_and_kept_as_written(string text, string expected)
    {
        Assert.True(RelayUserName.TryParse(text, out var name, out _));
        Assert.Equal(expected, name.Value);
        Assert.Equal(RelayUserName.Parse(expected), name);
        Assert.NotEqual(RelayUserName.Parse("Scanner"), RelayUserName.Parse("scanner"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("scan ner")]
    [InlineData("scanner\nroot")]
    [InlineData("scänner")]
    [InlineData("a%b")]
    public void Anything_else_is_not_a_relay_user_name(string? text)
    {
        Assert.False(RelayUserName.TryParse(text, out _, out var error));
        Assert.Contains("1 to 128 characters", error, StringComparison.Ordinal);
        Assert.False(RelayUserName.TryParse(new string('a', 129), out _, out _));
    }

    [Fact]
    public void Client_text_in_a_log_line_cannot_start_a_line_or_reorder_it_and_is_cut_after_128_characters()
    {
        Assert.Equal(@"admin\u000D\u000A2031-01-01 forged line", LogText.Untrusted("admin\r\n2031-01-01 forged line"));
        Assert.Equal(@"user\u202Egnp.exe", LogText.Untrusted("user\u202Egnp.exe"));
        Assert.Equal(@"a\\u000Db", LogText.Untrusted(@"a\u000Db"));
        Assert.Equal(@"\uD800x", LogText.Untrusted("\uD800x"));
        Assert.Equal("Grüße 👋", LogText.Untrusted("Grüße 👋"));
        Assert.Equal("(none)", LogText.Untrusted(null));
        Assert.Equal(new string('x', 128) + "…(+72 characters)", LogText.Untrusted(new string('x', 200)));
    }

    [Theory]
    [InlineData("From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n", 33)]
    [InlineData("\r\nbody\r\n", 0)]
    [InlineData("Subject: no body\r\n", 18)]
    [InlineData("Subject: cut", 12)]
    public void The_header_section_ends_before_the_first_empty_line(string message, int length) =>
        Assert.Equal(length, RelayHeaders.HeaderSectionLength(System.Text.Encoding.ASCII.GetBytes(message)));
}
