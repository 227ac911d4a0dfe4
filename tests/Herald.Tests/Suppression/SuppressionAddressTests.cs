using Herald.Suppression;

namespace Herald.Tests.Suppression;

/// <summary>The rule by which the suppression list compares addresses (<see cref="SuppressionAddress"/>);
/// the same rule on both databases is in the integration tests' SuppressionStoreTests.</summary>
public sealed class SuppressionAddressTests
{
    [Theory]
    [InlineData("bob@example.org", "bob@example.org")]
    [InlineData("  bob@example.org\t", "bob@example.org")]
    [InlineData("bob@EXAMPLE.Org", "bob@example.org")]
    [InlineData("bob@example.org.", "bob@example.org")]
    [InlineData("\"bob\"@example.org", "bob@example.org")]
    [InlineData("bob@bücher.example", "bob@xn--bcher-kva.example")]
    [InlineData("bob@BÜCHER.example", "bob@xn--bcher-kva.example")]
    [InlineData("bob@ｂücher.example", "bob@xn--bcher-kva.example")]
    [InlineData("bob@xn--bcher-kva.example", "bob@xn--bcher-kva.example")]
    [InlineData("bob@[192.0.2.1]", "bob@[192.0.2.1]")]
    [InlineData("bob@[IPv6:2001:DB8::1]", "bob@[ipv6:2001:db8::1]")]
    [InlineData("jürgen@example.org", "jürgen@example.org")]
    public void The_domain_is_compared_as_dns_compares_it(string written, string key)
    {
        Assert.True(SuppressionAddress.TryParse(written, out var address, out var error), error);
        Assert.Equal(key, address.Key);
        Assert.Equal(written.Trim(), address.Value);
    }

    [Fact]
    public void The_local_part_is_compared_exactly_as_rfc_5321_says_but_in_nfc()
    {
        Assert.NotEqual(SuppressionAddress.KeyOf("Bob@example.org"), SuppressionAddress.KeyOf("bob@example.org"));
        Assert.Equal("Bob@example.org", SuppressionAddress.KeyOf("Bob@example.org"));
        // "ü" precomposed and as u + combining diaeresis are one local part.
        Assert.Equal(SuppressionAddress.KeyOf("j\u00fcrgen@example.org"), SuppressionAddress.KeyOf("ju\u0308rgen@example.org"));
    }

    [Theory]
    [InlineData("", "An email address is required, such as name@example.org.")]
    [InlineData("   ", "An email address is required, such as name@example.org.")]
    [InlineData("bob", "'bob' is not an email address: write it as name@example.org, without a display name or spaces.")]
    [InlineData("bob @example.org", "'bob @example.org' is not an email address: write it as name@example.org, without a display name or spaces.")]
    [InlineData("Bob <bob@example.org>", "'Bob <bob@example.org>' is not an email address: write it as name@example.org, without a display name or spaces.")]
    [InlineData("bob@", "'bob@' is not an email address: write it as name@example.org, without a display name or spaces.")]
    [InlineData("bob\r\n@example.org", "'bob??@example.org' is not an email address: write it as name@example.org, without a display name or spaces.")]
    [InlineData(".bob@example.org", "'.bob@example.org' is not an email address: write it as name@example.org.")]
    [InlineData("bob@example..org", "'bob@example..org' is not an email address: write it as name@example.org.")]
    [InlineData("bob@exa$mple.org", "'bob@exa$mple.org' is not an email address: write it as name@example.org.")]
    public void What_is_no_address_is_refused_with_a_sentence(string written, string sentence)
    {
        Assert.False(SuppressionAddress.TryParse(written, out _, out var error));
        Assert.Equal(sentence, error);
    }

    [Fact]
    public void An_address_longer_than_an_smtp_path_allows_is_refused_without_echoing_it()
    {
        Assert.False(SuppressionAddress.TryParse(new string('a', 64) + "@" + new string('b', 250) + ".example", out _, out var error));
        Assert.Equal("An email address is at most 254 characters.", error);
        Assert.False(SuppressionAddress.TryParse(new string('a', 65) + "@example.org", out _, out _));
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("=1+1", "'=1+1")]
    [InlineData("+1", "'+1")]
    [InlineData("-1", "'-1")]
    [InlineData("@SUM(A1)", "'@SUM(A1)")]
    [InlineData("\t=1", "'\t=1")]
    [InlineData("a,b", "\"a,b\"")]
    [InlineData("say \"hi\"", "\"say \"\"hi\"\"\"")]
    [InlineData("=cmd|' /C calc'!A0,x", "\"'=cmd|' /C calc'!A0,x\"")]
    [InlineData("two\nlines", "\"two\nlines\"")]
    public void A_csv_cell_is_never_read_as_a_formula_and_is_quoted_when_it_must_be(string value, string cell) =>
        Assert.Equal(cell, Exports.CsvCell(value));
}
