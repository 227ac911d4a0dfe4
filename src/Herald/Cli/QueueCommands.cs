using System.CommandLine;
using Herald.Access;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Work;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald queue list|show|retry|cancel</c>: the outbox, through <see cref="QueueService"/>
/// as the local operator.</summary>
internal static class QueueCommands
{
    public static Command Create(CliConsole console)
    {
        var scope = new Option<string>("--scope") { Description = "Scope (and its children) to list (default /).", DefaultValueFactory = _ => "/" };
        var state = new Option<string?>("--state") { Description = "Only messages with a recipient in this state: queued, sent, deferred, bounced, expired, cancelled, failed (quarantined: see 'queue show'), suppressed." };
        var recipient = new Option<string?>("--recipient") { Description = "Only messages to this address." };
        var limit = new Option<int>("--limit") { Description = $"At most this many, 1 to {QueueService.MaxLimit} (default 50).", DefaultValueFactory = _ => 50 };
        var list = new Command("list", "List messages, newest first.") { scope, state, recipient, limit };
        list.SetNodeAction(console, async (node, parse, ct) =>
        {
            var query = new MessageQuery(parse.GetValue(scope)) { State = parse.GetValue(state), Recipient = parse.GetValue(recipient), Limit = parse.GetValue(limit) };
            var found = await node.GetRequiredService<QueueService>().ListAsync(Caller.Operator, query, ct);
            if (found.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            foreach (var message in found.Value!)
            {
                var states = string.Join(", ", message.Recipients.GroupBy(r => r.State).Select(g => $"{g.Count()} {RecipientStateNames.Values.NameOf(g.Key)}"));
                console.Out.WriteLine($"{message.Id}  {message.CreatedAt:yyyy-MM-dd HH:mm:ss}  {message.Scope,-12} {states,-28} {message.Subject ?? "(subject not recorded)"}");
            }

            return 0;
        });

        var showId = new Argument<string>("id") { Description = "Message id." };
        var show = new Command("show", "Show a message's recipients and delivery history.") { showId };
        show.SetNodeAction(console, async (node, parse, ct) =>
        {
            var found = await node.GetRequiredService<QueueService>().ShowAsync(Caller.Operator, parse.GetValue(showId), ct);
            if (found.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            var details = found.Value!;
            var message = details.Message;
            console.Out.WriteLine($"Message {message.Id} ({details.MessageIdHeader})");
            console.Out.WriteLine($"  scope {message.Scope}, source {MessageSourceNames.Values.NameOf(message.Source)}, from {message.EnvelopeSender}, {details.SizeBytes} bytes, connection {details.ConnectionName ?? "(none)"}");
            console.Out.WriteLine($"  subject {message.Subject ?? "(not recorded)"}");
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
            var retried = await node.GetRequiredService<QueueService>().RetryAsync(Caller.Operator, id, ct);
            if (retried.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            if (retried.Value!.Recipients == 0)
            {
                return console.Fail($"Message '{id}' has no deferred, expired or failed recipient.");
            }

            console.Out.WriteLine($"{retried.Value.Recipients} recipient(s) of {id} will be tried again now.");
            return 0;
        });

        var cancelId = new Argument<string>("id") { Description = "Message id." };
        var cancel = new Command("cancel", "Cancel a message's recipients that are not delivered yet.") { cancelId };
        cancel.SetNodeAction(console, async (node, parse, ct) =>
        {
            var cancelled = await node.GetRequiredService<QueueService>().CancelAsync(Caller.Operator, parse.GetValue(cancelId), ct);
            if (cancelled.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            if (cancelled.Value!.Recipients == 0)
            {
                return console.Fail($"Message '{parse.GetValue(cancelId)}' has no recipient waiting for delivery.");
            }

            console.Out.WriteLine($"Cancelled {cancelled.Value.Recipients} recipient(s) of {parse.GetValue(cancelId)}.");
            return 0;
        });

        return new Command("queue", "The outbox: what is queued, sent, deferred, bounced, expired or cancelled.") { list, show, retry, cancel };
    }
}
