using Herald.Webhooks;

namespace Herald.Tests.Webhooks;

public sealed class WebhookUrlTests
{
    [Theory]
    [InlineData("https://hooks.example.org/herald")]
    [InlineData("https://10.0.0.5:8443/in")]
    [InlineData("http://127.0.0.1:5000/hook")]
    [InlineData("http://127.1.2.3/hook")]
    [InlineData("http://[::1]:8080/hook")]
    [InlineData("http://localhost/hook")]
    public void Https_anywhere_and_http_to_this_machine_are_accepted(string url)
    {
        Assert.True(WebhookUrl.TryParse(url, out var parsed, out var error), error);
        Assert.Equal(new Uri(url), parsed);
    }

    [Theory]
    [InlineData("http://hooks.example.org/herald", "hooks.example.org is not")]
    [InlineData("http://10.0.0.5/in", "10.0.0.5 is not")]
    [InlineData("http://localhost.example.org/in", "localhost.example.org is not")]
    [InlineData("http://127.0.0.1.nip.io/in", "127.0.0.1.nip.io is not")]
    [InlineData("ftp://hooks.example.org/", "absolute https://")]
    [InlineData("/relative", "absolute https://")]
    [InlineData("https://user:pass@hooks.example.org/", "no user name, password")]
    [InlineData("https://hooks.example.org/#x", "#fragment")]
    [InlineData("", "required")]
    public void Anything_else_is_refused_naming_the_rule(string url, string says)
    {
        Assert.False(WebhookUrl.TryParse(url, out _, out var error));
        Assert.Contains(says, error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_url_longer_than_the_limit_is_refused()
    {
        Assert.False(WebhookUrl.TryParse("https://hooks.example.org/" + new string('a', WebhookUrl.MaxLength), out _, out var error));
        Assert.Equal($"The URL is at most {WebhookUrl.MaxLength} characters.", error);
    }
}
