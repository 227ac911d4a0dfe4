using System.CommandLine;
using Herald.Access;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Work;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald queue list|show|retry|cancel</c>: the outbox, for administrators.</summary>
internal static class QueueCommands
{
    public static Command Create(CliConsole console)
    {
        var scope = new Option<string>("--scope") { Description = "Scope (and its children) to list (default /).", DefaultValueFactory = _ => "/" };
        var state = new Option<string?>("--state") { Description = "Only messages with a recipient in this state: queued, sent, deferred, bounced, expired, cancelled, failed (quarantined: see 'queue show')." };
        var recipient = new Option<string?>("--recipient") { Description = "Only messages to this address." };
        var limit = new Option<int>("--limit") { Description = "At most this many (default 50).", DefaultValueFactory = _ => 50 };
        var list = new Command("list", "List messages, newest first.") { scope, state, recipient, limit };
        list.SetNodeAction(console, async (node, parse, ct) =>
        {
            if (!ScopePath.TryParse(parse.GetValue(scope), out var path, out var scopeError))
            {
                return console.Fail(scopeError);
            }

            RecipientState? wanted = null;
            if (parse.GetValue(state) is { } stateName)
            {
                if (!RecipientStateNames.Values.TryParse(stateName, out var error, out var parsed))
                {
                    return console.Fail($"--state {error}");
                }

                wanted = parsed;
            }

            var messages = await node.GetRequiredService<IOutboxStore>().ListAsync(new MessageFilter(path, wanted, parse.GetValue(recipient), Limit: parse.GetValue(limit)), ct);
            foreach (var message in messages)
            {
                var states = string.Join(", ", message.Recipients.GroupBy(r => r.State).Select(g => $"{g.Count()} {RecipientStateNames.Values.NameOf(g.Key)}"));
                console.Out.WriteLine($"{message.Id}  {message.CreatedAt:yyyy-MM-dd HH:mm:ss}  {message.Scope,-12} {states,-28} {message.Subject}");
            }

            return 0;
        });

        var showId = new Argument<string>("id") { Description = "Message id." };
        var show = new Command("show", "Show a message's recipients and delivery history.") { showId };
        show.SetNodeAction(console, async (node, parse, ct) =>
        {
            var details = await node.GetRequiredService<IOutboxStore>().GetAsync(parse.GetValue(showId)!, ct);
            if (details is null)
            {
                return console.Fail($"No message '{parse.GetValue(showId)}'.");
            }

            var message = details.Message;
            console.Out.WriteLine($"Message {message.Id} ({details.MessageIdHeader})");
            console.Out.WriteLine($"  scope {message.Scope}, source {MessageSourceNames.Values.NameOf(message.Source)}, from {message.EnvelopeSender}, {details.SizeBytes} bytes, connection {details.ConnectionName ?? "(none)"}");
            console.Out.WriteLine($"  subject {message.Subject}");
            console.Out.WriteLine($"  created {message.CreatedAt:u}, expires {message.ExpiresAt:u}");
            if (message.LastError is { } lastError)
            {
                console.Out.WriteLine($"  failed {message.Failures} time(s) for a reason of its own, last: {lastError}");
            }

            foreach (var r in message.Recipients)
            {
                console.Out.WriteLine($"  {r.Address}: {RecipientStateNames.Values.NameOf(r.State)} after {r.Attempts} attempt(s){(r.LastReply is null ? "" : ": " + r.LastReply)}");
            }

            foreach (var attempt in details.Attempts)
            {
                var address = message.Recipients.First(r => r.Ordinal == attempt.Ordinal).Address;
                console.Out.WriteLine($"  {attempt.At:u} #{attempt.Attempt} {address} on {attempt.Node}: {RecipientStateNames.Values.NameOf(attempt.Outcome)} {attempt.Reply}");
            }

            return 0;
        });

        var retryId = new Argument<string>("id") { Description = "Message id." };
        var retry = new Command("retry", "Make a message's deferred, expired and failed recipients due now.") { retryId };
        retry.SetNodeAction(console, async (node, parse, ct) =>
        {
            var id = parse.GetValue(retryId)!;
            var retried = await node.GetRequiredService<FailedWorkService>().RetryMessageAsync(Caller.Operator, id, ct);
            if (retried.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            if (retried.Value == 0)
            {
                return console.Fail($"Message '{id}' has no deferred, expired or failed recipient.");
            }

            console.Out.WriteLine($"{retried.Value} recipient(s) of {id} will be tried again now.");
            return 0;
        });

        var cancelId = new Argument<string>("id") { Description = "Message id." };
        var cancel = new Command("cancel", "Cancel a message's recipients that are not delivered yet.") { cancelId };
        cancel.SetNodeAction(console, async (node, parse, ct) =>
        {
            var changed = await node.GetRequiredService<IOutboxStore>().CancelAsync(parse.GetValue(cancelId)!, TimeProvider.System.GetUtcNow(), ct);
            if (changed == 0)
            {
                return console.Fail($"Message '{parse.GetValue(cancelId)}' has no recipient waiting for delivery (or does not exist).");
            }

            console.Out.WriteLine($"Cancelled {changed} recipient(s) of {parse.GetValue(cancelId)}.");
            return 0;
        });

        return new Command("queue", "The outbox: what is queued, sent, deferred, bounced, expired or cancelled.") { list, show, retry, cancel };
    }
}
