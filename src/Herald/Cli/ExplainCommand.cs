using System.CommandLine;
using Herald.Access;
using Herald.Notifications;
using Herald.Notifications.Explain;
using Herald.Scopes;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald explain event ID --scope /hr [--user alice]</c>: who got mail about an event, and
/// why the others did not.</summary>
internal static class ExplainCommand
{
    public static Command Create(CliConsole console)
    {
        var scope = new Option<string>("--scope") { Description = "The event's scope (ids are unique within a scope; default /).", DefaultValueFactory = _ => "/" };
        var user = new Option<string?>("--user") { Description = "Only this person: a user id or an email address." };
        var id = new Argument<string>("id") { Description = "Event id." };
        var explainEvent = new Command("event", "Every subscription and rule that matched the event, and what happened to each candidate recipient, with why.") { scope, user, id };
        explainEvent.SetNodeAction(console, async (node, parse, ct) =>
        {
            if (!ScopePath.TryParse(parse.GetValue(scope), out var path, out var scopeError))
            {
                return console.Fail($"--scope: {scopeError}");
            }

            ExplainRecipient? recipient = null;
            if (parse.GetValue(user) is { } who && !ExplainRecipient.TryParse(who, out recipient, out var userError))
            {
                return console.Fail($"--user: {userError}");
            }

            var explained = await node.GetRequiredService<ExplainService>().ExplainAsync(Caller.Operator, new EventKey(path, parse.GetValue(id)!), recipient, ct);
            if (explained.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            Write(console.Out, explained.Value!);
            return 0;
        });

        return new Command("explain", "Why did (or didn't) someone get mail: explanations kept for each event's fan-out.") { explainEvent };
    }

    private static void Write(TextWriter output, EventExplanation e)
    {
        output.WriteLine($"Event {e.Event.Id} of {e.Event.Scope} ({e.Event.Type}: {e.Event.Title}), fanned out {e.RecordedAt.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC");
        if (e.Disabled is { } disabled)
        {
            output.WriteLine($"Email of the scope was turned off: {disabled}");
        }

        output.WriteLine("Matched:");
        foreach (var source in e.Sources)
        {
            output.WriteLine($"  {source.Number}. {EventExplanation.Describe(source)}, {source.Frequency}");
        }

        if (e.Sources.Count == 0)
        {
            output.WriteLine("  nothing: no subscription or rule matched the event.");
        }

        output.WriteLine($"Candidates: {string.Join(", ", e.Counts.OrderBy(c => c.Key).Select(c => $"{c.Value} {CandidateOutcomeNames.Values.NameOf(c.Key)}"))}");
        if (e.Recipient is { } asked && e.Candidates.Count == 0)
        {
            output.WriteLine($"  {asked} was no candidate: no matched subscription or rule names them.");
        }

        foreach (var candidate in e.Candidates)
        {
            var who = candidate.Record.UserId is { } userId ? $"{candidate.Record.Address} ({userId})" : candidate.Record.Address;
            output.WriteLine($"  {who}  {CandidateOutcomeNames.Values.NameOf(candidate.Record.Outcome)}  {e.Reason(candidate)}");
        }
    }
}
