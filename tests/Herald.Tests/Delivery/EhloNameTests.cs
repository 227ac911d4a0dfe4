using Herald.Delivery;

namespace Herald.Tests.Delivery;

public sealed class EhloNameTests
{
    [Theory]
    [InlineData("mail.example.org", true)]
    [InlineData("vm.corp.example.com.", true)]
    [InlineData("xn--bcher-kva.example", true)]
    [InlineData("vm", false)]
    [InlineData("localhost", false)]
    [InlineData("", false)]
    [InlineData("-bad.example.org", false)]
    [InlineData("bad-.example.org", false)]
    [InlineData("a..example.org", false)]
    [InlineData("under_score.example.org", false)]
    [InlineData("192.0.2.7", false)]
    [InlineData("host.123", false)]
    public void A_greeting_name_is_qualified_only_with_two_or_more_dns_labels(string name, bool qualified) =>
        Assert.Equal(qualified, EhloName.IsQualified(name));

    [Theory]
    [InlineData("alerts@example.org")]
    [InlineData("alerts@Bücher.example")]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("alerts@localhost")]
    public void Herald_greets_with_a_qualified_name_whatever_the_sender(string? sender) =>
        Assert.True(EhloName.IsQualified(EhloName.Automatically(sender)), EhloName.Automatically(sender));
}
