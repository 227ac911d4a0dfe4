using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;

namespace Herald.IntegrationTests.Notifications;

/// <summary>Templates through a real <c>herald serve</c> and the <c>herald template</c> verbs.</summary>
public sealed class TemplatesApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_template_is_checked_when_saved_inherited_below_its_scope_previewed_and_removed()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port);
        await OutboxNode.MustAsync(node.Cli, "scope", "add", "/hr/payroll");
        using var hrAdmin = node.Server.Client(await node.KeyAsync("/hr", "admin"));
        using var financeAdmin = node.Server.Client(await node.KeyAsync("/finance", "admin"));
        using var hrSender = node.Server.Client(await node.KeyAsync("/hr", "sender"));

        // Broken: a syntax error in the text, an unknown filter in the HTML. 422, per field, nothing saved.
        using var broken = await hrAdmin.PutAsJsonAsync("api/v1/templates/item.changed?scope=/hr",
            new { subject = "HR: {{ event.title }}", text = "Hello\n{{ event.title }", html = "<p>{{ event.title | shout }}</p>" }, Ct);
        var problem = JsonDocument.Parse(await broken.Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.Equal(HttpStatusCode.UnprocessableEntity, broken.StatusCode);
        Assert.StartsWith("line 2, column ", problem.GetProperty("errors").GetProperty("text")[0].GetString(), StringComparison.Ordinal);
        Assert.Equal("Unknown filter 'shout'.", problem.GetProperty("errors").GetProperty("html")[0].GetString());
        Assert.False(problem.GetProperty("errors").TryGetProperty("subject", out _));

        using var saved = await hrAdmin.PutAsJsonAsync("api/v1/templates/item.changed?scope=/hr",
            new { subject = "HR: {{ event.title }} changed", text = "{{ event.title }} by {{ event.actor }}", html = "<b>{{ event.title }}</b>" }, Ct);
        Assert.Equal(HttpStatusCode.OK, saved.StatusCode);

        var listed = JsonDocument.Parse(await hrAdmin.GetStringAsync(new Uri("api/v1/templates?scope=/hr/payroll", UriKind.Relative), Ct)).RootElement;
        var changed = listed.EnumerateArray().Single(t => t.GetProperty("type").GetString() == "item.changed");
        Assert.Equal(("inherited", "/hr"), (changed.GetProperty("origin").GetString(), changed.GetProperty("definedAt").GetString()));
        Assert.Equal("default", listed.EnumerateArray().Single(t => t.GetProperty("type").GetString() == "digest").GetProperty("origin").GetString());

        using var preview = await hrAdmin.PostAsJsonAsync("api/v1/templates/preview",
            new { scope = "/hr/payroll", type = "item.changed", @event = new { title = "Budget <2026>.xlsx", actor = "dana" } }, Ct);
        var rendered = JsonDocument.Parse(await preview.Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.Equal(HttpStatusCode.OK, preview.StatusCode);
        Assert.Equal("HR: Budget <2026>.xlsx changed", rendered.GetProperty("subject").GetString());
        Assert.Equal("Budget <2026>.xlsx by dana", rendered.GetProperty("text").GetString());
        Assert.Equal("<b>Budget &lt;2026&gt;.xlsx</b>", rendered.GetProperty("html").GetString());

        using var unsaved = await hrAdmin.PostAsJsonAsync("api/v1/templates/preview",
            new { scope = "/hr", type = "digest", template = new { subject = "{{ digest.count }} for {{ recipient.name }}", text = "{% for e in digest.events %}{{ e.title }};{% endfor %}" } }, Ct);
        var digest = JsonDocument.Parse(await unsaved.Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.Equal("3 for Alex Example", digest.GetProperty("subject").GetString());

        using var foreign = await financeAdmin.PutAsJsonAsync("api/v1/templates/item.changed?scope=/hr", new { subject = "x", text = "y" }, Ct);
        Assert.Equal(HttpStatusCode.Forbidden, foreign.StatusCode);
        using var sender = await hrSender.GetAsync(new Uri("api/v1/templates?scope=/hr", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.Forbidden, sender.StatusCode);
        using var badType = await hrAdmin.PutAsJsonAsync("api/v1/templates/Item%20Changed?scope=/hr", new { subject = "x", text = "y" }, Ct);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, badType.StatusCode);

        // The CLI sees what the API saved, and removes it.
        var shown = await OutboxNode.MustAsync(node.Cli, "template", "show", "--scope", "/hr/payroll", "--type", "item.changed");
        Assert.Contains("inherited from /hr", shown.Output, StringComparison.Ordinal);
        Assert.Contains("HR: {{ event.title }} changed", shown.Output, StringComparison.Ordinal);
        await OutboxNode.MustAsync(node.Cli, "template", "remove", "--scope", "/hr", "--type", "item.changed");
        await Task.Delay(TimeSpan.FromSeconds(5.5), Ct);
        var after = JsonDocument.Parse(await hrAdmin.GetStringAsync(new Uri("api/v1/templates/item.changed?scope=/hr/payroll", UriKind.Relative), Ct)).RootElement;
        Assert.Equal("default", after.GetProperty("origin").GetString());
        using var gone = await hrAdmin.DeleteAsync(new Uri("api/v1/templates/item.changed?scope=/hr", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task The_cli_refuses_a_broken_template_naming_the_field_and_saves_a_good_one()
    {
        using var cli = new Herald.Testing.HeraldCommandLine();
        await OutboxNode.MustAsync(cli, "scope", "add", "/hr");
        var textFile = Path.Combine(cli.DataDirectory, "text.liquid");
        await File.WriteAllTextAsync(textFile, "{% if event.link %}{{ event.link }}", Ct);

        var refused = await cli.RunAsync(["template", "set", "--scope", "/hr", "--type", "pipeline.failed", "--text-file", textFile]);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("text: line 1, column ", refused.Error, StringComparison.Ordinal);
        Assert.Contains("herald: The template is not valid; nothing was saved.", refused.Error, StringComparison.Ordinal);

        await File.WriteAllTextAsync(textFile, "Failed: {{ event.title }}", Ct);
        await OutboxNode.MustAsync(cli, "template", "set", "--scope", "/hr", "--type", "pipeline.failed", "--subject", "Red: {{ event.title }}", "--text-file", textFile, "--no-html");
        var preview = await OutboxNode.MustAsync(cli, "template", "preview", "--scope", "/hr", "--type", "pipeline.failed", "--title", "nightly #7");
        Assert.Contains("Subject: Red: nightly #7", preview.Output, StringComparison.Ordinal);
        Assert.Contains("Failed: nightly #7", preview.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("--- HTML ---", preview.Output, StringComparison.Ordinal);
        var list = await OutboxNode.MustAsync(cli, "template", "show", "--scope", "/hr");
        Assert.Contains("pipeline.failed      own", list.Output, StringComparison.Ordinal);
    }
}
