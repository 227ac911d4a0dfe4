using Herald.Relay;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Tests.Relay;

public sealed class RelaySettingsTests
{
    private static readonly RelayListenerSettings Stored = new(
        "127.0.0.1:2525", ScopePath.Parse("/hr"), RelayAccessMode.OnlyList, ["10.0.0.0/8"], RelayAuthMode.None, ["example.org"], [], AuthWithoutTls: false);

    [Fact]
    public void Every_bad_field_is_named_and_the_listener_is_unchanged()
    {
        var errors = new List<FieldError>();
        var update = new RelayListenerUpdate("127.0.0.1:2525")
        {
            Scope = "hr",
            Access = "some",
            Auth = "maybe",
            Entries = ["10.0.0.0/8", "10.0.0.0/40", "not a host"],
            SenderDomains = ["example.org", "10.0.0"],
            RecipientDomains = ["@example.org"],
        };

        RelaySettingsService.Apply(Stored, update, errors);

        Assert.Equal(["scope", "access", "auth", "entries[1]", "entries[2]", "senderDomains[1]", "recipientDomains[0]"], errors.Select(e => e.Field));
        Assert.Contains("only-list, all-except", errors.Single(e => e.Field == "access").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Fields_left_out_keep_their_values_and_lists_given_replace_the_stored_ones()
    {
        var errors = new List<FieldError>();
        var updated = RelaySettingsService.Apply(Stored, new RelayListenerUpdate("127.0.0.1:2525")
        {
            Auth = "required",
            Entries = ["192.0.2.0/24", "2001:DB8::/32", "192.0.2.0/24"],
            RecipientDomains = ["Example.NET"],
        }, errors);

        Assert.Empty(errors);
        Assert.Equal(Stored with
        {
            Auth = RelayAuthMode.Required,
            Entries = ["192.0.2.0/24", "2001:db8::/32"],
            RecipientDomains = ["example.net"],
        }, updated, new ListenerComparer());
    }

    [Fact]
    public void Changing_the_access_mode_without_a_new_list_is_refused_so_allowed_clients_do_not_become_refused_ones()
    {
        var errors = new List<FieldError>();

        RelaySettingsService.Apply(Stored, new RelayListenerUpdate("127.0.0.1:2525") { Access = "all-except" }, errors);

        Assert.Equal("entries", Assert.Single(errors).Field);
    }

    [Fact]
    public void The_default_listener_is_loopback_only_anonymous_into_the_global_scope()
    {
        var listener = RelaySettingsService.DefaultListener;
        Assert.Equal(("127.0.0.1:2525", "/", RelayAccessMode.OnlyList, RelayAuthMode.None), (listener.Listen, listener.Scope.Value, listener.Access, listener.Auth));
        Assert.Equal(["127.0.0.0/8", "::1"], listener.Entries);
    }

    [Fact]
    public void A_password_hash_verifies_only_its_password_and_salts_differ()
    {
        var first = RelayPasswords.Hash("correct horse", iterations: 1000);
        var second = RelayPasswords.Hash("correct horse", iterations: 1000);

        Assert.NotEqual(first, second);
        Assert.StartsWith("pbkdf2-sha256$1000$", first, StringComparison.Ordinal);
        Assert.DoesNotContain("correct horse", first, StringComparison.Ordinal);
        Assert.True(RelayPasswords.Verify("correct horse", first));
        Assert.True(RelayPasswords.Verify("correct horse", second));
        Assert.False(RelayPasswords.Verify("correct horsE", first));
        Assert.False(RelayPasswords.Verify("", first));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("md5$abc")]
    [InlineData("pbkdf2-sha256$x$AAAA$AAAA")]
    [InlineData("pbkdf2-sha256$1000$not base64$AAAA")]
    public void An_unknown_or_damaged_hash_never_verifies(string? stored) =>
        Assert.False(RelayPasswords.Verify("anything", stored));

    [Fact]
    public void New_hashes_use_a_high_iteration_count() =>
        Assert.StartsWith($"pbkdf2-sha256${RelayPasswords.DefaultIterations}$", RelayPasswords.Hash("x"), StringComparison.Ordinal);

    /// <summary>Records compare lists by reference; settings are equal when their lists hold the same items.</summary>
    private sealed class ListenerComparer : IEqualityComparer<RelayListenerSettings>
    {
        public bool Equals(RelayListenerSettings? x, RelayListenerSettings? y) =>
            x is not null && y is not null && Text(x) == Text(y);

        public int GetHashCode(RelayListenerSettings obj) => Text(obj).GetHashCode(StringComparison.Ordinal);

        private static string Text(RelayListenerSettings l) =>
            $"{l.Listen}|{l.Scope}|{l.Access}|{string.Join(',', l.Entries)}|{l.Auth}|{string.Join(',', l.SenderDomains)}|{string.Join(',', l.RecipientDomains)}|{l.AuthWithoutTls}";
    }
}
