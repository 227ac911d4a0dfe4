using Herald.Scopes;
using Herald.Settings;

namespace Herald.Tests.Settings;

public sealed class ValuesTests
{
    [Theory]
    [InlineData("/", "/")]
    [InlineData("/HR/", "/hr")]
    [InlineData(" /hr/payroll ", "/hr/payroll")]
    public void Scope_paths_are_normalized(string text, string expected) =>
        Assert.Equal(expected, ScopePath.Parse(text).Value);

    [Theory]
    [InlineData("hr", "must start with '/'")]
    [InlineData("/hr//payroll", "invalid part ''")]
    [InlineData("/hr/pay roll", "invalid part 'pay roll'")]
    [InlineData("", "is required")]
    public void Bad_scope_paths_are_refused_with_the_reason(string text, string reason)
    {
        Assert.False(ScopePath.TryParse(text, out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Scope_ancestry_runs_from_the_scope_to_the_root() =>
        Assert.Equal(["/hr/payroll", "/hr", "/"], ScopePath.Parse("/hr/payroll").SelfAndAncestors().Select(s => s.Value));

    [Theory]
    [InlineData("alice@example.org")]
    [InlineData("first.last+tag@sub.example.co.uk")]
    public void Valid_addresses_are_accepted(string text) => Assert.True(EmailAddress.TryParse(text, out _, out _));

    [Theory]
    [InlineData("not-an-address")]
    [InlineData("alice@")]
    [InlineData("@example.org")]
    [InlineData("Alice <alice@example.org>")]
    [InlineData("alice@example.org\r\nBcc: victim@example.org")]
    [InlineData("a b@example.org")]
    public void Malformed_addresses_are_refused(string text)
    {
        Assert.False(EmailAddress.TryParse(text, out _, out var error));
        Assert.Contains("not a valid email address", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("UTF-8", "utf-8")]
    [InlineData("ISO-8859-1", "iso-8859-1")]
    [InlineData("Shift_JIS", "shift_jis")]
    [InlineData("ISO-2022-JP", "iso-2022-jp")]
    [InlineData("GB2312", "gb2312")]
    public void Platform_charsets_are_accepted(string name, string canonical)
    {
        Assert.True(Charsets.TryNormalize(name, out var normalized, out _));
        Assert.Equal(canonical, normalized);
    }

    [Theory]
    [InlineData("klingon-8", "Unknown character set")]
    [InlineData("utf-16", "not ASCII-compatible")]
    public void Unusable_charsets_are_refused(string name, string reason)
    {
        Assert.False(Charsets.TryNormalize(name, out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Effective_settings_take_each_field_from_the_nearest_scope_that_sets_it()
    {
        var root = new ScopeOutgoingSettings(ScopePath.Root)
        {
            ConnectionId = "default",
            FromAddress = EmailAddress.Parse("herald@example.org"),
            Charset = "iso-8859-1",
        };
        var hr = new ScopeOutgoingSettings(ScopePath.Parse("/hr")) { FromAddress = EmailAddress.Parse("hr@example.org") };

        var effective = EffectiveOutgoingSettings.Resolve(ScopePath.Parse("/hr/payroll"), [hr, root]);

        Assert.Equal("hr@example.org", effective.FromAddress.Value!.Value);
        Assert.Equal(ScopePath.Parse("/hr"), effective.FromAddress.DefinedAt);
        Assert.Equal("default", effective.ConnectionId.Value);
        Assert.Equal(ScopePath.Root, effective.ConnectionId.DefinedAt);
        Assert.Equal("iso-8859-1", effective.Charset.Value);
        Assert.Null(effective.ReplyTo.Value);
        Assert.True(effective.Enabled.Value);
        Assert.Null(effective.Enabled.DefinedAt);
    }
}
