using System.ComponentModel.DataAnnotations;
using Herald.Cli;
using Herald.Notifications;

namespace Herald.Tests.Notifications;

public sealed class NotificationOptionsTests
{
    [Theory]
    [InlineData("http://127.0.0.1:9000", "http://127.0.0.1:9000")]
    [InlineData("https://herald.example.org:8443/;http://127.0.0.1:8025", "https://herald.example.org:8443")]
    [InlineData("", NotificationOptions.DefaultPublicBaseUrl)]
    public void Links_point_at_serves_first_url_by_default(string urls, string expected) =>
        Assert.Equal(expected, ServeCommand.PublicBaseUrl(urls));

    [Fact]
    public void A_wildcard_listen_address_becomes_this_machines_name()
    {
        var url = ServeCommand.PublicBaseUrl("http://0.0.0.0:8025");

        Assert.Equal($"http://{Environment.MachineName.ToLowerInvariant()}:8025", url);
    }

    [Fact]
    public void Bad_settings_are_refused_with_a_sentence_naming_the_setting()
    {
        var options = new NotificationOptions { PublicBaseUrl = "herald.example.org", UnsubscribeLinkLifetime = TimeSpan.Zero, DigestCheckInterval = TimeSpan.FromDays(1) };

        var results = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);

        Assert.Equal(
            ["Notifications:PublicBaseUrl", "Notifications:UnsubscribeLinkLifetime", "Notifications:DigestCheckInterval"],
            results.Select(r => r.ErrorMessage![..r.ErrorMessage!.IndexOf(' ', StringComparison.Ordinal)]));
        Assert.Empty(new NotificationOptions().Validate(new ValidationContext(new NotificationOptions())));
    }
}
