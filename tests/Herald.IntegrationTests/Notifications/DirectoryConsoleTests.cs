using System.Net;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;

namespace Herald.IntegrationTests.Notifications;

/// <summary>The console's user editor posted to as a browser would, against a real <c>herald serve</c>.</summary>
public sealed class DirectoryConsoleTests
{
    private const string Password = "root's long password";

    [Fact]
    public async Task A_user_form_with_a_bad_id_names_every_other_bad_field_too_and_stores_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port);
        Assert.Equal(0, (await node.Cli.RunWithInputAsync(Password + "\n", "admin", "create", "--name", "root", "--scope", "/")).ExitCode);
        using var console = await ConsoleBrowser.SignInAsync(node.Server, "root", Password);

        using var posted = await console.PostAsync(
            "/users/edit", "/users/edit?handler=Save", ("id", "no spaces!"), ("name", ""), ("email", "not an address"), ("timeZone", "Mars/Olympus"), ("language", "en"));

        var page = await posted.Content.ReadAsStringAsync(ct);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, posted.StatusCode);
        foreach (var field in new[] { "id", "name", "email", "timeZone" })
        {
            Assert.Matches($"<p class=\"field-error\" id=\"{field}-error\">[^<]+", page);
        }

        using var api = node.Server.Client(await node.KeyAsync("/", "admin"));
        Assert.Equal("[]", await api.GetStringAsync(new Uri("api/v1/users", UriKind.Relative), ct));
    }
}
