using System.CommandLine;
using System.Globalization;
using Herald.Access;
using Herald.Suppression;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald suppression list|add|remove|export</c>: the suppression lists, through
/// <see cref="SuppressionService"/> as the local operator.</summary>
internal static class SuppressionCommands
{
    public static Command Create(CliConsole console)
    {
        var reasons = string.Join(", ", SuppressionReasonNames.Values.Names);
        Option<string> Scope(string what) => new("--scope") { Description = what, DefaultValueFactory = _ => "/" };
        Option<string?> Address() => new("--address") { Description = "Only this address, or every address of a domain (@example.org)." };
        Option<string?> Reason() => new("--reason") { Description = $"Only entries of this reason: {reasons}." };

        var listScope = Scope("Scope (and the scopes below it) whose entries to list (default /).");
        var listAddress = Address();
        var listReason = Reason();
        var limit = new Option<int>("--limit") { Description = $"At most this many, 1 to {SuppressionService.MaxLimit} (default 100).", DefaultValueFactory = _ => 100 };
        var before = new Option<string?>("--before") { Description = "Continue after this entry id (the 'next' a page printed)." };
        var list = new Command("list", "List suppressed addresses, newest first.") { listScope, listAddress, listReason, limit, before };
        list.SetNodeAction(console, async (node, parse, ct) =>
        {
            var query = new SuppressionQuery(parse.GetValue(listScope), parse.GetValue(listAddress), parse.GetValue(listReason), parse.GetValue(before), parse.GetValue(limit));
            var found = await node.GetRequiredService<SuppressionService>().ListAsync(Caller.Operator, query, ct);
            if (found.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            foreach (var entry in found.Value!.Entries)
            {
                console.Out.WriteLine(Line(entry));
            }

            if (found.Value.Next is { } next)
            {
                console.Out.WriteLine($"More: --before {next}");
            }

            return 0;
        });

        var addAddress = new Argument<string>("address") { Description = "The address to suppress." };
        var addScope = Scope("The scope whose list it goes on: nothing is sent to it from there or below (default /).");
        var addReason = new Option<string>("--reason") { Description = $"Why: {reasons} (default administrator).", DefaultValueFactory = _ => "administrator" };
        var source = new Option<string?>("--source") { Description = "Where it came from, e.g. \"ticket 4711\" (default: the local operator)." };
        var expires = new Option<string?>("--expires") { Description = "When it stops applying: a time (2027-01-31T00:00Z) or a number of days (30d); default never." };
        var add = new Command("add", "Suppress an address in a scope and the scopes below it.") { addAddress, addScope, addReason, source, expires };
        add.SetNodeAction(console, async (node, parse, ct) =>
        {
            DateTimeOffset? expiresAt = null;
            if (parse.GetValue(expires) is { } text)
            {
                if (text.EndsWith('d') && int.TryParse(text[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var days) && days is > 0 and <= 3660)
                {
                    expiresAt = node.GetRequiredService<TimeProvider>().GetUtcNow().AddDays(days);
                }
                else if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
                {
                    expiresAt = at;
                }
                else
                {
                    return console.Fail(Refusal.Invalid("expires", "--expires is a time such as 2027-01-31T00:00Z or a number of days such as 30d."));
                }
            }

            var added = await node.GetRequiredService<SuppressionService>().AddAsync(
                Caller.Operator, new SuppressionRequest(parse.GetValue(addScope), parse.GetValue(addAddress), parse.GetValue(addReason), parse.GetValue(source), expiresAt), ct);
            if (added.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Suppressed: {Line(added.Value!)}");
            return 0;
        });

        var removeId = new Argument<string>("id") { Description = "The entry's id (see 'suppression list')." };
        var remove = new Command("remove", "Remove an entry: Herald sends to the address again.") { removeId };
        remove.SetNodeAction(console, async (node, parse, ct) =>
        {
            var removed = await node.GetRequiredService<SuppressionService>().RemoveAsync(Caller.Operator, parse.GetValue(removeId), ct);
            if (removed.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Removed: {Line(removed.Value!)}");
            return 0;
        });

        var exportScope = Scope("Scope (and the scopes below it) whose entries to export (default /).");
        var exportAddress = Address();
        var exportReason = Reason();
        var format = new Option<string>("--format") { Description = "csv or json (default csv).", DefaultValueFactory = _ => "csv" };
        var output = new Option<string?>("--output") { Description = "Write to this file instead of standard output." };
        var export = new Command("export", "Export suppressed addresses as CSV or JSON.") { exportScope, exportAddress, exportReason, format, output };
        export.SetNodeAction(console, async (node, parse, ct) =>
        {
            var prepared = node.GetRequiredService<SuppressionService>().Export(
                Caller.Operator, new SuppressionQuery(parse.GetValue(exportScope), parse.GetValue(exportAddress), parse.GetValue(exportReason)), parse.GetValue(format));
            if (prepared.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            return await CliExport.WriteAsync(console, prepared.Value!.WriteAsync, parse.GetValue(output), ct);
        });

        return new Command("suppression", "Suppression lists: addresses nothing is sent to (hard bounces, complaints, unsubscribe from everything, administrators).")
        {
            list, add, remove, export,
        };
    }

    private static string Line(SuppressionEntry entry) =>
        $"{entry.Id}  {entry.Scope,-12} {entry.Address}  {SuppressionReasonNames.Values.NameOf(entry.Reason)}  since {entry.CreatedAt:yyyy-MM-dd HH:mm}"
        + $"{(entry.ExpiresAt is { } expires ? $" until {expires:yyyy-MM-dd HH:mm}" : "")}  by {entry.CreatedBy}  ({entry.Source})";
}
