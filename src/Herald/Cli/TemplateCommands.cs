using System.CommandLine;
using Herald.Access;
using Herald.Notifications.Templates;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald template set|show|remove|preview</c>: the Liquid templates of notifications
/// per scope and event type (or <c>digest</c>). A template is checked before it is saved.</summary>
internal static class TemplateCommands
{
    private static readonly Option<string> Scope = new("--scope") { Description = "Scope of the template (default /).", DefaultValueFactory = _ => "/" };

    public static Command Create(CliConsole console) =>
        new("template", "Notification templates (Liquid): subject, text and HTML per scope and event type, or 'digest'.")
        {
            CreateSet(console), CreateShow(console), CreateRemove(console), CreatePreview(console),
        };

    private sealed record SourceOptions(
        Option<string?> Subject, Option<FileInfo?> SubjectFile, Option<string?> Text, Option<FileInfo?> TextFile, Option<string?> Html, Option<FileInfo?> HtmlFile, Option<bool> NoHtml)
    {
        public static SourceOptions Create() => new(
            new("--subject") { Description = "Subject template (one line)." },
            new("--subject-file") { Description = "Read the subject template from this file." },
            new("--text") { Description = "Text body template." },
            new("--text-file") { Description = "Read the text body template from this file." },
            new("--html") { Description = "HTML body template." },
            new("--html-file") { Description = "Read the HTML body template from this file." },
            new("--no-html") { Description = "No HTML body: text only." });

        public IEnumerable<Option> All => [Subject, SubjectFile, Text, TextFile, Html, HtmlFile, NoHtml];

        public bool AnyGiven(ParseResult parse) => All.Any(o => parse.GetResult(o) is not null);

        /// <summary>The given parts over <paramref name="current"/>; a file that cannot be read is an error.</summary>
        public async Task<(TemplateSources? Sources, string? Error)> ApplyAsync(ParseResult parse, TemplateSources current, CancellationToken cancellationToken)
        {
            try
            {
                var subject = parse.GetValue(Subject) ?? await ReadAsync(parse.GetValue(SubjectFile), cancellationToken) ?? current.Subject;
                var text = parse.GetValue(Text) ?? await ReadAsync(parse.GetValue(TextFile), cancellationToken) ?? current.Text;
                var html = parse.GetValue(NoHtml) ? null : parse.GetValue(Html) ?? await ReadAsync(parse.GetValue(HtmlFile), cancellationToken) ?? current.Html;
                return (new TemplateSources(subject, text, html), null);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return (null, $"Cannot read the template file: {ex.Message}");
            }
        }

        private static async Task<string?> ReadAsync(FileInfo? file, CancellationToken cancellationToken) =>
            file is null ? null : await File.ReadAllTextAsync(file.FullName, cancellationToken);
    }

    private static Command CreateSet(CliConsole console)
    {
        var type = new Option<string>("--type") { Description = "Event type (item.changed, pipeline.failed, a custom type) or 'digest'.", Required = true };
        var sources = SourceOptions.Create();
        var command = new Command("set", "Set the scope's own template for a type; parts left out keep the template that applies now. Checked before it is saved.") { Scope, type };
        foreach (var option in sources.All)
        {
            command.Options.Add(option);
        }

        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            // Parts left out keep the template that applies now: it is read first (and refused,
            // with the reason, where the operator could not save either).
            var service = node.GetRequiredService<TemplateService>();
            var current = await service.ShowAsync(Caller.Operator, parse.GetValue(Scope), parse.GetValue(type), ct);
            if (current.Value is not { } effective)
            {
                return console.Fail(current.Refusal!);
            }

            var (merged, readError) = await sources.ApplyAsync(parse, effective.Sources, ct);
            if (merged is null)
            {
                return console.Fail(readError!);
            }

            var saved = await service.SaveAsync(Caller.Operator, parse.GetValue(Scope), parse.GetValue(type), merged, ct);
            if (saved.Value is not { } template)
            {
                return console.Fail(saved.Refusal!);
            }

            console.Out.WriteLine($"Saved the {template.EventType} template of scope {template.Scope}.");
            return 0;
        });
        return command;
    }

    private static Command CreateShow(CliConsole console)
    {
        var type = new Option<string?>("--type") { Description = "One type; without it, every type and where its template comes from." };
        var command = new Command("show", "Show the template that applies in a scope.") { Scope, type };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            var service = node.GetRequiredService<TemplateService>();
            if (parse.GetValue(type) is not { } one)
            {
                var listed = await service.ListAsync(Caller.Operator, parse.GetValue(Scope), ct);
                foreach (var t in listed.Value ?? [])
                {
                    console.Out.WriteLine($"{t.EventType,-20} {Origin(t)}");
                }

                return listed.Refusal is { } refusal ? console.Fail(refusal) : 0;
            }

            var shown = await service.ShowAsync(Caller.Operator, parse.GetValue(Scope), one, ct);
            if (shown.Value is not { } effective)
            {
                return console.Fail(shown.Refusal!);
            }

            console.Out.WriteLine($"# {effective.EventType} in {parse.GetValue(Scope)}: {Origin(effective)}");
            console.Out.WriteLine($"## subject\n{effective.Sources.Subject}\n## text\n{effective.Sources.Text}");
            console.Out.WriteLine(effective.Sources.Html is null ? "## html (none)" : $"## html\n{effective.Sources.Html}");
            return 0;
        });
        return command;
    }

    private static Command CreateRemove(CliConsole console)
    {
        var type = new Option<string>("--type") { Description = "Event type or 'digest'.", Required = true };
        var command = new Command("remove", "Remove the scope's own template: the inherited one or the default applies again.") { Scope, type };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            if (await node.GetRequiredService<TemplateService>().RevertAsync(Caller.Operator, parse.GetValue(Scope), parse.GetValue(type), ct) is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Removed the {parse.GetValue(type)} template of scope {parse.GetValue(Scope)}.");
            return 0;
        });
        return command;
    }

    private static Command CreatePreview(CliConsole console)
    {
        var type = new Option<string>("--type") { Description = "Event type or 'digest'.", Required = true };
        var title = new Option<string?>("--title") { Description = "Title of the sample event." };
        var sources = SourceOptions.Create();
        var command = new Command("preview", "Render a template with a sample event: the one that applies, or with the parts given (unsaved).") { Scope, type, title };
        foreach (var option in sources.All)
        {
            command.Options.Add(option);
        }

        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            var service = node.GetRequiredService<TemplateService>();
            TemplateSources? unsaved = null;
            if (sources.AnyGiven(parse))
            {
                var current = await service.ShowAsync(Caller.Operator, parse.GetValue(Scope), parse.GetValue(type), ct);
                if (current.Value is not { } effective)
                {
                    return console.Fail(current.Refusal!);
                }

                (unsaved, var readError) = await sources.ApplyAsync(parse, effective.Sources, ct);
                if (unsaved is null)
                {
                    return console.Fail(readError!);
                }
            }

            var overrides = parse.GetValue(title) is { } given ? new PreviewEvent(null, given, null, null, null, null, null) : null;
            var previewed = await service.PreviewAsync(Caller.Operator, parse.GetValue(Scope), parse.GetValue(type), unsaved, overrides, ct);
            if (previewed.Value is not { } rendered)
            {
                return console.Fail(previewed.Refusal!);
            }

            console.Out.WriteLine($"Subject: {rendered.Subject}\n\n{rendered.Text}");
            if (rendered.Html is not null)
            {
                console.Out.WriteLine($"\n--- HTML ---\n{rendered.Html}");
            }

            return 0;
        });
        return command;
    }

    private static string Origin(EffectiveTemplate t) => t.Origin switch
    {
        TemplateOrigin.Own => "own",
        TemplateOrigin.Inherited => $"inherited from {t.DefinedAt}",
        _ => "default",
    };
}
