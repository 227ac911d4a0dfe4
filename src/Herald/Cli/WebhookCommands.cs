using System.CommandLine;
using Herald.Access;
using Herald.Webhooks;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald webhook list|add|enable|disable|remove|deliveries|retry</c>: webhook endpoints, through
/// <see cref="WebhookService"/> as the local operator. Only <c>add</c> prints a secret, once.</summary>
internal static class WebhookCommands
{
    public static Command Create(CliConsole console)
    {
        var listScope = new Option<string>("--scope") { Description = "Scope (and the scopes below it) whose webhooks to list (default /).", DefaultValueFactory = _ => "/" };
        var list = new Command("list", "List webhook endpoints (never their secrets).") { listScope };
        list.SetNodeAction(console, async (node, parse, ct) =>
        {
            var found = await node.GetRequiredService<WebhookService>().ListAsync(Caller.Operator, parse.GetValue(listScope), ct);
            if (found.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            foreach (var endpoint in found.Value!)
            {
                console.Out.WriteLine(Line(endpoint));
            }

            return 0;
        });

        var url = new Argument<string>("url") { Description = "Where to post: https://…, or http:// to 127.0.0.1, ::1 or localhost." };
        var addScope = new Option<string>("--scope") { Description = "Whose changes it hears, with the scopes below it (default /).", DefaultValueFactory = _ => "/" };
        var description = new Option<string?>("--description") { Description = "What it is for, e.g. \"ticket system\"." };
        var types = new Option<string[]>("--event") { Description = $"Only these types (repeat the option): {string.Join(", ", WebhookEventTypes.All)}; default all.", AllowMultipleArgumentsPerToken = true };
        var add = new Command("add", "Add a webhook endpoint; prints its signing secret, this once.") { url, addScope, description, types };
        add.SetNodeAction(console, async (node, parse, ct) =>
        {
            var created = await node.GetRequiredService<WebhookService>().CreateAsync(
                Caller.Operator, new WebhookRequest(parse.GetValue(addScope), parse.GetValue(url), parse.GetValue(description), parse.GetValue(types)), ct);
            if (created.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Added: {Line(created.Value!.Endpoint)}");
            console.Out.WriteLine("Signing secret (shown this once; give it to the receiver to verify webhook-signature):");
            console.Out.WriteLine(created.Value.Secret);
            return 0;
        });

        var enable = Switch(console, "enable", "Enable a webhook again (one Herald disabled after failing too long, too): its waiting deliveries go out, in order.", enabled: true);
        var disable = Switch(console, "disable", "Disable a webhook: its deliveries wait until it is enabled again.", enabled: false);

        var removeId = new Argument<string>("id") { Description = "The webhook's id (see 'webhook list')." };
        var remove = new Command("remove", "Remove a webhook endpoint with its waiting deliveries and its log.") { removeId };
        remove.SetNodeAction(console, async (node, parse, ct) =>
        {
            var removed = await node.GetRequiredService<WebhookService>().RemoveAsync(Caller.Operator, parse.GetValue(removeId), ct);
            if (removed.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Removed: {Line(removed.Value!)}");
            return 0;
        });

        var logId = new Argument<string>("id") { Description = "The webhook's id." };
        var limit = new Option<int>("--limit") { Description = $"At most this many attempts, 1 to {WebhookService.MaxLogSize} (default {WebhookService.DefaultLogSize}).", DefaultValueFactory = _ => WebhookService.DefaultLogSize };
        var deliveries = new Command("deliveries", "A webhook's last attempts, newest first, and the deliveries still waiting.") { logId, limit };
        deliveries.SetNodeAction(console, async (node, parse, ct) =>
        {
            var log = await node.GetRequiredService<WebhookService>().LogAsync(Caller.Operator, parse.GetValue(logId), parse.GetValue(limit), ct);
            if (log.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine(Line(log.Value!.Endpoint));
            foreach (var attempt in log.Value.Attempts)
            {
                console.Out.WriteLine(
                    $"{attempt.At:yyyy-MM-dd HH:mm:ss}  {(attempt.Succeeded ? "delivered" : "failed"),-9}  {(attempt.Status is { } s ? s.ToString(System.Globalization.CultureInfo.InvariantCulture) : "-"),3}  {attempt.DeliveryId}  {attempt.Type}  {attempt.Reply}");
            }

            foreach (var waiting in log.Value.Waiting)
            {
                console.Out.WriteLine($"waiting    {waiting.Id}  {waiting.Type}  {waiting.Subject}  {waiting.Attempts} attempt(s), next {waiting.NextAttemptAt:yyyy-MM-dd HH:mm:ss}{(waiting.State == WebhookDeliveryState.Failed ? "  (failed: retry it)" : "")}");
            }

            return 0;
        });

        var retryId = new Argument<string>("id") { Description = "The webhook's id." };
        var deliveryId = new Argument<string>("delivery") { Description = "The delivery's webhook-id (msg_…, see 'webhook deliveries')." };
        var retry = new Command("retry", "Send a delivery again now.") { retryId, deliveryId };
        retry.SetNodeAction(console, async (node, parse, ct) =>
        {
            var retried = await node.GetRequiredService<WebhookService>().RetryAsync(Caller.Operator, parse.GetValue(retryId), parse.GetValue(deliveryId), ct);
            if (retried.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Due now: {retried.Value!.Id} {retried.Value.Type} ({retried.Value.Subject})");
            return 0;
        });

        return new Command("webhook", "Webhooks: signed HTTP calls that tell producers what happened to their mail.")
        {
            list, add, enable, disable, remove, deliveries, retry,
        };
    }

    private static Command Switch(CliConsole console, string name, string description, bool enabled)
    {
        var id = new Argument<string>("id") { Description = "The webhook's id (see 'webhook list')." };
        var command = new Command(name, description) { id };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            var changed = await node.GetRequiredService<WebhookService>().UpdateAsync(Caller.Operator, parse.GetValue(id), new WebhookChange(Enabled: enabled), ct);
            if (changed.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"{(enabled ? "Enabled" : "Disabled")}: {Line(changed.Value!)}");
            return 0;
        });
        return command;
    }

    private static string Line(WebhookEndpoint endpoint) =>
        $"{endpoint.Id}  {endpoint.Scope,-12} {endpoint.Url}  {(endpoint.EventTypes.Count == 0 ? "all events" : string.Join(",", endpoint.EventTypes))}"
        + $"  {(endpoint.Enabled ? "enabled" : "disabled")}{(endpoint.Description.Length > 0 ? $"  ({endpoint.Description})" : "")}"
        + (endpoint.DisabledReason is { } reason ? $"  {reason}" : endpoint.FailingSince is { } since ? $"  failing since {since:yyyy-MM-dd HH:mm}" : "");
}
