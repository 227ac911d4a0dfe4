using System.CommandLine;
using Herald.Notifications;
using Herald.Notifications.FanOut;
using Herald.Notifications.Subscriptions;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald subscription add|list|remove</c> and <c>herald rule add|list|remove|test</c>.
/// A running <c>herald serve</c> picks changes up within seconds (its index polls the store).</summary>
internal static class NotificationCommands
{
    private static readonly Option<string?> Scope = new("--scope") { Description = "Scope (default /); events of this scope and the scopes below it." };
    private static readonly Option<string?> Name = new("--name") { Description = "A name people recognise in the notification (default: the id)." };
    private static readonly Option<string[]> Types = new("--type") { Description = "Event type (item.changed, pipeline.failed, a custom type); repeatable; none: every type." };
    private static readonly Option<string[]> Paths = new("--path") { Description = "Resource path prefix, by whole segments (/Shared Documents); repeatable; none: everything." };
    private static readonly Option<string[]> Kinds = new("--change-kind") { Description = "Change kind (added, changed, deleted, failed…); repeatable." };
    private static readonly Option<string[]> Where = new("--where") { Description = "Condition on the event's data: 'FIELD OPERATOR VALUE[,VALUE…]' with equals, not-equals, in, contains; repeatable." };
    private static readonly Option<bool> ExcludeActor = new("--exclude-actor") { Description = "Do not notify the person who made the change." };

    public static Command CreateSubscription(CliConsole console) =>
        new("subscription", "Alerts: users and groups subscribed to a scope's events.") { CreateSubscriptionAdd(console), CreateSubscriptionList(console), CreateRemove(console, rule: false) };

    public static Command CreateRule(CliConsole console) =>
        new("rule", "Notification rules: an administrator routes a scope's events to addresses, users and groups.")
        {
            CreateRuleAdd(console), CreateRuleList(console), CreateRemove(console, rule: true), CreateRuleTest(console),
        };

    private static Command CreateSubscriptionAdd(CliConsole console)
    {
        var id = new Option<string?>("--id") { Description = "Id (default: a new one); an existing id is replaced." };
        var owner = new Option<string>("--owner") { Description = "user:<id> or group:<id>; needs View on the scope.", Required = true };
        var frequency = new Option<string?>("--frequency") { Description = "immediate (default), daily or weekly." };
        var at = new Option<string?>("--at") { Description = "Daily or weekly: HH:mm in the owner's time zone." };
        var day = new Option<string?>("--day") { Description = "Weekly: monday … sunday." };
        var command = new Command("add", "Subscribe a user or a group.") { id, Scope, owner, Name, Types, Paths, Kinds, Where, frequency, at, day, ExcludeActor };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            var errors = new List<FieldError>();
            var store = node.GetRequiredService<ISubscriptionRegistry>();
            var now = node.GetRequiredService<TimeProvider>().GetUtcNow();
            var subscriptionId = parse.GetValue(id) ?? $"sub-{Guid.CreateVersion7(now):N}";
            SubscriptionRequests.CheckId(subscriptionId, errors);
            var request = new SubscriptionRequest(
                subscriptionId, parse.GetValue(Scope) ?? "/", parse.GetValue(owner), parse.GetValue(Name), parse.GetValue(Types), parse.GetValue(Paths),
                parse.GetValue(Kinds), Conditions(parse.GetValue(Where), errors), parse.GetValue(frequency), parse.GetValue(at), parse.GetValue(day), parse.GetValue(ExcludeActor), true);
            var existing = await store.FindAsync(subscriptionId, ct);
            var subscription = SubscriptionRequests.Check(request, subscriptionId, existing?.CreatedAt ?? now, now, errors);
            if (subscription is null || errors.Count > 0)
            {
                return Invalid(console, errors);
            }

            if (await node.GetRequiredService<SubscriptionService>().SaveAsync(subscription, ct) is { } refused)
            {
                return console.Fail($"{refused.Message} Nothing was saved.");
            }

            console.Out.WriteLine($"Saved subscription {Describe(subscription)}");
            return 0;
        });
        return command;
    }

    private static Command CreateSubscriptionList(CliConsole console)
    {
        var owner = new Option<string?>("--owner") { Description = "Only this owner's (user:<id> or group:<id>)." };
        var command = new Command("list", "List subscriptions.") { owner, Scope };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            Principal? ownerFilter = null;
            if (parse.GetValue(owner) is { } ownerText)
            {
                if (!Principal.TryParse(ownerText, out var principal, out var error))
                {
                    return console.Fail(error);
                }

                ownerFilter = principal;
            }

            ScopePath? scopeFilter = null;
            if (parse.GetValue(Scope) is { } scopeText)
            {
                if (!ScopePath.TryParse(scopeText, out var path, out var error))
                {
                    return console.Fail(error);
                }

                scopeFilter = path;
            }

            foreach (var subscription in await node.GetRequiredService<ISubscriptionRegistry>().ListAsync(ownerFilter, scopeFilter, ct))
            {
                console.Out.WriteLine(Describe(subscription));
            }

            return 0;
        });
        return command;
    }

    private static Command CreateRuleAdd(CliConsole console)
    {
        var id = new Option<string?>("--id") { Description = "Id (default: a new one); an existing id is replaced." };
        var to = new Option<string[]>("--to") { Description = "Recipient: an email address, user:<id> or group:<id> (every member, per the group's delivery); repeatable.", Required = true };
        var command = new Command("add", "Add or replace a notification rule.") { id, Scope, Name, Types, Paths, Kinds, Where, to, ExcludeActor };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            var errors = new List<FieldError>();
            var store = node.GetRequiredService<ISubscriptionRegistry>();
            var now = node.GetRequiredService<TimeProvider>().GetUtcNow();
            var ruleId = parse.GetValue(id) ?? $"rule-{Guid.CreateVersion7(now):N}";
            SubscriptionRequests.CheckId(ruleId, errors);
            var request = new RuleRequest(
                ruleId, parse.GetValue(Scope) ?? "/", parse.GetValue(Name), parse.GetValue(Types), parse.GetValue(Paths), parse.GetValue(Kinds),
                Conditions(parse.GetValue(Where), errors), parse.GetValue(to), parse.GetValue(ExcludeActor), true);
            var existing = await store.FindRuleAsync(ruleId, ct);
            var rule = SubscriptionRequests.Check(request, ruleId, existing?.CreatedAt ?? now, now, errors);
            if (rule is null || errors.Count > 0)
            {
                return Invalid(console, errors);
            }

            if (await node.GetRequiredService<SubscriptionService>().SaveRuleAsync(rule, ct) is { } refused)
            {
                return console.Fail($"{refused.Message} Nothing was saved.");
            }

            console.Out.WriteLine($"Saved rule {Describe(rule)}");
            return 0;
        });
        return command;
    }

    private static Command CreateRuleList(CliConsole console)
    {
        var command = new Command("list", "List notification rules.") { Scope };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            ScopePath? scopeFilter = null;
            if (parse.GetValue(Scope) is { } scopeText)
            {
                if (!ScopePath.TryParse(scopeText, out var path, out var error))
                {
                    return console.Fail(error);
                }

                scopeFilter = path;
            }

            foreach (var rule in await node.GetRequiredService<ISubscriptionRegistry>().ListRulesAsync(scopeFilter, ct))
            {
                console.Out.WriteLine(Describe(rule));
            }

            return 0;
        });
        return command;
    }

    private static Command CreateRemove(CliConsole console, bool rule)
    {
        var id = new Option<string>("--id") { Description = rule ? "The rule's id." : "The subscription's id.", Required = true };
        var command = new Command("remove", rule ? "Remove a notification rule." : "Remove a subscription.") { id };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            var store = node.GetRequiredService<ISubscriptionRegistry>();
            var now = node.GetRequiredService<TimeProvider>().GetUtcNow();
            var target = parse.GetValue(id)!;
            var removed = rule ? await store.RemoveRuleAsync(target, now, ct) : await store.RemoveAsync(target, now, ct);
            if (!removed)
            {
                return console.Fail($"There is no {(rule ? "rule" : "subscription")} '{target}'.");
            }

            console.Out.WriteLine($"Removed {(rule ? "rule" : "subscription")} {target}");
            return 0;
        });
        return command;
    }

    private static Command CreateRuleTest(CliConsole console)
    {
        var id = new Option<string>("--id") { Description = "The rule's id.", Required = true };
        var command = new Command("test", "Queue a sample notification of the rule's first event type to its recipients.") { id };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            if (await node.GetRequiredService<ISubscriptionRegistry>().FindRuleAsync(parse.GetValue(id)!, ct) is not { } rule)
            {
                return console.Fail($"There is no rule '{parse.GetValue(id)}'.");
            }

            if (node.GetService<IDirectory>() is null)
            {
                return console.Fail("This build has no directory to resolve the rule's users and groups with.");
            }

            var result = await node.GetRequiredService<NotificationFanOut>().TestRuleAsync(rule, node.GetRequiredService<TimeProvider>().GetUtcNow(), ct);
            if (result.Problem is not null)
            {
                return console.Fail($"Scope {rule.Scope} cannot send: {result.Problem}");
            }

            console.Out.WriteLine($"Queued {result.Stored} test notification(s) for rule {rule.Id}; 'herald serve' delivers them.");
            return 0;
        });
        return command;
    }

    /// <summary>'FIELD OPERATOR VALUE[,VALUE…]', e.g. 'pipeline.branch in main,release'.</summary>
    private static List<ConditionRequest> Conditions(string[]? written, List<FieldError> errors)
    {
        var conditions = new List<ConditionRequest>();
        foreach (var (text, i) in (written ?? []).Select((t, i) => (t, i)))
        {
            var parts = text.Split(' ', 3, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (parts.Length != 3)
            {
                errors.Add(new FieldError($"--where[{i}]", $"'{text}' is not FIELD OPERATOR VALUE (e.g. 'status equals approved', 'branch in main,release')."));
                continue;
            }

            conditions.Add(new ConditionRequest(parts[0], parts[1], parts[1] == "in" ? parts[2].Split(',', StringSplitOptions.TrimEntries) : [parts[2]]));
        }

        return conditions;
    }

    private static int Invalid(CliConsole console, List<FieldError> errors)
    {
        foreach (var error in errors.SkipLast(1))
        {
            console.Error.WriteLine($"herald: {error.Field}: {error.Message}");
        }

        return console.Fail($"{errors[^1].Field}: {errors[^1].Message} Nothing was saved.");
    }

    private static string Filter(EventFilter f) =>
        $"types: {(f.EventTypes.Count == 0 ? "any" : string.Join(", ", f.EventTypes))}  paths: {(f.PathPrefixes.Count == 0 ? "any" : string.Join(", ", f.PathPrefixes))}"
        + (f.ChangeKinds.Count == 0 ? "" : $"  kinds: {string.Join(", ", f.ChangeKinds)}")
        + string.Concat(f.Conditions.Select(c => $"  where {c.Field} {ConditionOperatorNames.Values.NameOf(c.Operator)} {string.Join(",", c.Values)}"));

    private static string Describe(Subscription s) =>
        $"{s.Id}  scope {s.Scope}  owner {s.Owner}  {Filter(s.Filter)}  {NotificationFrequencyNames.Values.NameOf(s.Schedule.Frequency)}"
        + (s.Schedule.Frequency == NotificationFrequency.Immediate ? "" : $" at {s.Schedule.At:HH\\:mm}")
        + (s.Schedule.Frequency == NotificationFrequency.Weekly ? $" on {s.Schedule.Day.ToString().ToLowerInvariant()}" : "")
        + (s.ExcludeActor ? "  excludes the actor" : "") + (s.Enabled ? "" : "  (disabled)");

    private static string Describe(NotificationRule r) =>
        $"{r.Id}  scope {r.Scope}  {Filter(r.Filter)}  to: {string.Join(", ", r.Addresses.Select(a => a.Value).Concat(r.Recipients.Select(p => p.ToString())))}"
        + (r.ExcludeActor ? "  excludes the actor" : "") + (r.Enabled ? "" : "  (disabled)");
}
