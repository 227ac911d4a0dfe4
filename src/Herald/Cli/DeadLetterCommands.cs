using System.CommandLine;
using System.Globalization;
using Herald.Access;
using Herald.Outbox;
using Herald.Outbox.DeadLetters;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald dead-letters list|retry|suppress|export</c>: expired, bounced, failed and
/// suppressed recipients, through <see cref="DeadLetterService"/> as the local operator.</summary>
internal static class DeadLetterCommands
{
    public static Command Create(CliConsole console)
    {
        var listFilter = new FilterOptions("list");
        var limit = new Option<int>("--limit") { Description = $"At most this many, 1 to {DeadLetterService.MaxLimit} (default 100).", DefaultValueFactory = _ => 100 };
        var after = new Option<string?>("--after") { Description = "Continue after this row (the 'More:' a page printed)." };
        var list = listFilter.Command("list", "List dead letters, newest first.");
        list.Options.Add(limit);
        list.Options.Add(after);
        list.SetNodeAction(console, async (node, parse, ct) =>
        {
            var found = await node.GetRequiredService<DeadLetterService>().ListAsync(
                Caller.Operator, listFilter.Query(parse) with { After = parse.GetValue(after), Limit = parse.GetValue(limit) }, ct);
            if (found.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            foreach (var row in found.Value!.Items)
            {
                console.Out.WriteLine(
                    $"{row.MessageId}  {row.Recipient}  {RecipientStateNames.Values.NameOf(row.State)}  {row.At:yyyy-MM-dd HH:mm:ss}  {row.Scope}  {row.Subject ?? "(no subject)"}  {row.Reply}");
            }

            if (found.Value.Next is { } next)
            {
                console.Out.WriteLine($"More: --after {next}");
            }

            return 0;
        });

        var retry = Bulk(console, "retry", "Make exactly these recipients due again (not the other recipients of their messages).", (service, selection, ct) => service.RetryAsync(Caller.Operator, selection, ct), "Retried");
        var suppress = Bulk(console, "suppress", "Put these recipients' addresses on the suppression list of their message's scope.", (service, selection, ct) => service.SuppressAsync(Caller.Operator, selection, ct), "Suppressed");

        var exportFilter = new FilterOptions("export");
        var format = new Option<string>("--format") { Description = "csv or json (default csv).", DefaultValueFactory = _ => "csv" };
        var output = new Option<string?>("--output") { Description = "Write to this file instead of standard output." };
        var export = exportFilter.Command("export", "Export dead letters as CSV or JSON.");
        export.Options.Add(format);
        export.Options.Add(output);
        export.SetNodeAction(console, async (node, parse, ct) =>
        {
            var prepared = node.GetRequiredService<DeadLetterService>().Export(Caller.Operator, exportFilter.Query(parse), parse.GetValue(format));
            if (prepared.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            return await CliExport.WriteAsync(console, prepared.Value!.WriteAsync, parse.GetValue(output), ct);
        });

        return new Command("dead-letters", "Dead letters: expired, bounced, failed (quarantined) and suppressed recipients; list, retry, suppress and export them in bulk.")
        {
            list, retry, suppress, export,
        };
    }

    /// <summary>A bulk verb: <c>--recipient ID:ADDRESS</c> (repeated), or <c>--all-matching</c> with the filter.</summary>
    private static Command Bulk(
        CliConsole console, string name, string description, Func<DeadLetterService, DeadLetterSelection, CancellationToken, Task<Result<DeadLetterOutcome>>> act, string done)
    {
        var filter = new FilterOptions(name);
        var recipients = new Option<string[]>("--recipient") { Description = "A recipient as 'list' shows it: MESSAGE-ID:ADDRESS; repeat for more.", Arity = ArgumentArity.ZeroOrMore };
        var all = new Option<bool>("--all-matching") { Description = $"Every dead letter the filter selects (at most {DeadLetterService.MaxSelection.ToString("N0", CultureInfo.InvariantCulture)})." };
        var command = filter.Command(name, description);
        command.Options.Add(recipients);
        command.Options.Add(all);
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            var named = parse.GetValue(recipients) ?? [];
            var selection = new DeadLetterSelection(
                named.Length == 0 && parse.GetValue(all) ? null : named.Select(Recipient).ToArray(),
                parse.GetValue(all) ? filter.Query(parse) : null);
            var outcome = await act(node.GetRequiredService<DeadLetterService>(), selection, ct);
            if (outcome.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"{done} {outcome.Value!.Changed} of {outcome.Value.Selected} selected; skipped {outcome.Value.Skipped}.");
            return 0;
        });
        return command;
    }

    private static DeadLetterRecipient Recipient(string text)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? new DeadLetterRecipient(text, null) : new DeadLetterRecipient(text[..colon], text[(colon + 1)..]);
    }

    /// <summary>The filter every verb takes, with the API's names.</summary>
    private sealed class FilterOptions(string verb)
    {
        private readonly Option<string> _scope = new("--scope") { Description = $"Scope (and the scopes below it) whose dead letters to {verb} (default /).", DefaultValueFactory = _ => "/" };
        private readonly Option<string?> _state = new("--state") { Description = $"Only these states, comma-separated: {string.Join(", ", DeadLetterStates.Names(DeadLetterStates.All))}." };
        private readonly Option<string?> _domain = new("--domain") { Description = "Only recipients of this domain (exactly; case does not matter)." };
        private readonly Option<DateTimeOffset?> _since = new("--since") { Description = "Only those that reached their state at or after this time (2026-12-01T00:00Z)." };
        private readonly Option<DateTimeOffset?> _until = new("--until") { Description = "Only those that reached their state before this time." };

        public Command Command(string name, string description) => new(name, description) { _scope, _state, _domain, _since, _until };

        public DeadLetterQuery Query(ParseResult parse) =>
            new(parse.GetValue(_scope), parse.GetValue(_state), parse.GetValue(_domain), parse.GetValue(_since), parse.GetValue(_until));
    }
}
