using System.CommandLine;
using Herald.Access;
using Herald.Notifications;
using Herald.Scopes;
using Herald.Work;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald events list --state failed</c> and <c>herald events retry --scope /hr ID</c>:
/// events whose fan-out failed for a reason of their own and is quarantined.</summary>
internal static class EventCommands
{
    public static Command Create(CliConsole console)
    {
        var state = new Option<string>("--state") { Description = "Which events: failed (quarantined, with the reason).", Required = true };
        var scope = new Option<string>("--scope") { Description = "Scope (and its children) to list (default /).", DefaultValueFactory = _ => "/" };
        var limit = new Option<int>("--limit") { Description = "At most this many (default 100).", DefaultValueFactory = _ => 100 };
        var list = new Command("list", "List events whose fan-out failed, newest first, with why.") { state, scope, limit };
        list.SetNodeAction(console, async (node, parse, ct) =>
        {
            if (parse.GetValue(state) != "failed")
            {
                return console.Fail("--state: only failed events are listed (--state failed).");
            }

            if (!ScopePath.TryParse(parse.GetValue(scope), out var path, out var scopeError))
            {
                return console.Fail($"--scope: {scopeError}");
            }

            var listed = await node.GetRequiredService<FailedWorkService>().ListEventsAsync(Caller.Operator, path, parse.GetValue(limit), ct);
            if (listed.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            foreach (var e in listed.Value!)
            {
                console.Out.WriteLine($"{e.Key.Scope,-12} {e.Key.Id}  {e.Type}  {e.ReceivedAt:yyyy-MM-dd HH:mm:ss}  failed {e.Failures}x: {e.LastError}");
            }

            return 0;
        });

        var retryScope = new Option<string>("--scope") { Description = "The event's scope (ids are unique within a scope).", Required = true };
        var id = new Argument<string>("id") { Description = "Event id." };
        var retry = new Command("retry", "Fan a failed event out again, as if just posted (mails an earlier try stored are not sent twice).") { retryScope, id };
        retry.SetNodeAction(console, async (node, parse, ct) =>
        {
            if (!ScopePath.TryParse(parse.GetValue(retryScope), out var path, out var scopeError))
            {
                return console.Fail($"--scope: {scopeError}");
            }

            var eventId = parse.GetValue(id)!;
            if (await node.GetRequiredService<FailedWorkService>().RetryEventAsync(Caller.Operator, new EventKey(path, eventId), ct) is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Event {eventId} of {path} will be fanned out again now.");
            return 0;
        });

        return new Command("events", "Notification events: those whose fan-out failed, and retrying them.") { list, retry };
    }
}
