using System.CommandLine;
using Herald.Access;
using Herald.Notifications;
using Herald.Notifications.Subscriptions;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald subscription add|list|remove|test</c> and <c>herald rule add|list|remove|test</c>,
/// by the local operator through <see cref="SubscriptionService"/> and <see cref="RuleService"/>.
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
        new("subscription", "Alerts: users and groups subscribed to a scope's events.")
        {
            CreateSubscriptionAdd(console), CreateSubscriptionList(console), CreateRemove(console, rule: false), CreateSubscriptionTest(console),
        };

    public static Command CreateRule(CliConsole console) =>
        new("rule", "Notification rules: an administrator routes a scope's events to addresses, users and groups.")
        {
            CreateRuleAdd(console), CreateRuleList(console), CreateRemove(console, rule: true), CreateRuleTest(console),
        };

    private static Command CreateSubscriptionAdd(CliConsole console)
    {
        var flags = new SubscriptionFlags();
        var command = new Command("add", "Subscribe a user or a group.");
        flags.AddTo(command);
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            var request = flags.Request(parse);
            var service = node.GetRequiredService<SubscriptionService>();
            var saved = request.Id is { } given
                ? await service.PutAsync(Caller.Operator, given, request, ct)
                : await service.CreateAsync(Caller.Operator, request, ct);
            if (saved.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Saved subscription {Describe(saved.Value!.Value)}");
            return 0;
        });
        return command;
    }

    private static Command CreateSubscriptionTest(CliConsole console)
    {
        var flags = new SubscriptionFlags();
        var command = new Command("test", "Test a subscription before saving it (the flags of 'add'): a sample goes to each recipient now and the server's answer for each is shown; nothing is stored.");
        flags.AddTo(command);
        command.SetNodeAction(console, async (node, parse, ct) =>
            Report(console, "subscription", await node.GetRequiredService<SubscriptionService>().TestDraftAsync(Caller.Operator, flags.Request(parse), ct)));
        return command;
    }

    /// <summary>The flags of a subscription, as 'add' and 'test' take them.</summary>
    private sealed class SubscriptionFlags
    {
        private readonly Option<string?> _id = new("--id") { Description = "Id (default: a new one); an existing id is replaced." };
        private readonly Option<string> _owner = new("--owner") { Description = "user:<id> or group:<id>; needs View on the scope.", Required = true };
        private readonly Option<string?> _frequency = new("--frequency") { Description = "immediate (default), daily or weekly." };
        private readonly Option<string?> _at = new("--at") { Description = "Daily or weekly: HH:mm in the owner's time zone." };
        private readonly Option<string?> _day = new("--day") { Description = "Weekly: monday … sunday." };

        public void AddTo(Command command)
        {
            foreach (var option in new Option[] { _id, Scope, _owner, Name, Types, Paths, Kinds, Where, _frequency, _at, _day, ExcludeActor })
            {
                command.Options.Add(option);
            }
        }

        public SubscriptionRequest Request(ParseResult parse) => new(
            parse.GetValue(_id), parse.GetValue(Scope) ?? "/", parse.GetValue(_owner), parse.GetValue(Name), parse.GetValue(Types), parse.GetValue(Paths),
            parse.GetValue(Kinds), Conditions(parse.GetValue(Where)), parse.GetValue(_frequency), parse.GetValue(_at), parse.GetValue(_day), parse.GetValue(ExcludeActor), true);
    }

    private static Command CreateSubscriptionList(CliConsole console)
    {
        var owner = new Option<string?>("--owner") { Description = "Only this owner's (user:<id> or group:<id>)." };
        var command = new Command("list", "List subscriptions.") { owner, Scope };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            var listed = await node.GetRequiredService<SubscriptionService>().ListAsync(Caller.Operator, parse.GetValue(owner), parse.GetValue(Scope), ct);
            if (listed.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            foreach (var subscription in listed.Value!)
            {
                console.Out.WriteLine(Describe(subscription));
            }

            return 0;
        });
        return command;
    }

    private static Command CreateRuleAdd(CliConsole console)
    {
        var flags = new RuleFlags(toRequired: true);
        var command = new Command("add", "Add or replace a notification rule.");
        flags.AddTo(command);
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            var request = flags.Request(parse);
            var service = node.GetRequiredService<RuleService>();
            var saved = request.Id is { } given
                ? await service.PutAsync(Caller.Operator, given, request, ct)
                : await service.CreateAsync(Caller.Operator, request, ct);
            if (saved.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Saved rule {Describe(saved.Value!.Value)}");
            return 0;
        });
        return command;
    }

    private static Command CreateRuleList(CliConsole console)
    {
        var command = new Command("list", "List notification rules.") { Scope };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            var listed = await node.GetRequiredService<RuleService>().ListAsync(Caller.Operator, parse.GetValue(Scope), ct);
            if (listed.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            foreach (var rule in listed.Value!)
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
            var target = parse.GetValue(id)!;
            var refusal = rule
                ? await node.GetRequiredService<RuleService>().RemoveAsync(Caller.Operator, target, ct)
                : await node.GetRequiredService<SubscriptionService>().RemoveAsync(Caller.Operator, target, ct);
            if (refusal is not null)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Removed {(rule ? "rule" : "subscription")} {target}");
            return 0;
        });
        return command;
    }

    private static Command CreateRuleTest(CliConsole console)
    {
        // --to is required for a draft only; the use case names it when a draft has none.
        var flags = new RuleFlags(toRequired: false);
        var draft = new Option<bool>("--draft") { Description = "Test the rule the other flags describe (those of 'add'), without saving it; without --draft, the saved rule --id." };
        var command = new Command("test", "Send a sample notification to each recipient of a rule now, saved (--id) or not (--draft …), and show the server's answer for each; nothing is stored.") { draft };
        flags.AddTo(command);
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            var service = node.GetRequiredService<RuleService>();
            if (parse.GetValue(draft))
            {
                return Report(console, "rule", await service.TestDraftAsync(Caller.Operator, flags.Request(parse), ct));
            }

            return flags.Id(parse) is { } id
                ? Report(console, $"rule {id}", await service.TestAsync(Caller.Operator, id, ct))
                : console.Fail("--id: name the saved rule to test, or describe one with --draft and the flags of 'add'.");
        });
        return command;
    }

    /// <summary>The flags of a rule, as 'add' and 'test --draft' take them.</summary>
    private sealed class RuleFlags(bool toRequired)
    {
        private readonly Option<string?> _id = new("--id")
        {
            Description = toRequired ? "Id (default: a new one); an existing id is replaced." : "The saved rule to test; with --draft, the id the draft would have (its opt-outs apply).",
        };
        private readonly Option<string[]> _to = new("--to")
        {
            Description = "Recipient: an email address, user:<id> or group:<id> (every member, per the group's delivery); repeatable.", Required = toRequired,
        };

        public void AddTo(Command command)
        {
            foreach (var option in new Option[] { _id, Scope, Name, Types, Paths, Kinds, Where, _to, ExcludeActor })
            {
                command.Options.Add(option);
            }
        }

        public string? Id(ParseResult parse) => parse.GetValue(_id);

        public RuleRequest Request(ParseResult parse) => new(
            parse.GetValue(_id), parse.GetValue(Scope) ?? "/", parse.GetValue(Name), parse.GetValue(Types), parse.GetValue(Paths), parse.GetValue(Kinds),
            Conditions(parse.GetValue(Where)), parse.GetValue(_to), parse.GetValue(ExcludeActor), true);
    }

    /// <summary>A test's outcome, one line per recipient: 0 when every sample was accepted.</summary>
    private static int Report(CliConsole console, string what, Result<NotificationTestResult> tested)
    {
        if (tested.Refusal is { } refusal)
        {
            return console.Fail(refusal);
        }

        var result = tested.Value!;
        if (result.Problem is { } problem)
        {
            return console.Fail(problem);
        }

        console.Out.WriteLine($"Test of {what}: {result.Reached} recipient(s) reached now.");
        foreach (var recipient in result.Recipients)
        {
            console.Out.WriteLine($"  {recipient.Address}: {recipient.Outcome}: {recipient.Reply}");
        }

        if (result.Note is { } note)
        {
            console.Out.WriteLine(note);
        }

        var accepted = result.Recipients.Count(r => r.Outcome == "accepted");
        return accepted == result.Recipients.Count ? 0 : console.Fail($"Accepted for {accepted} of {result.Recipients.Count} recipient(s).");
    }

    /// <summary>'FIELD OPERATOR VALUE[,VALUE…]', e.g. 'pipeline.branch in main,release'; what is
    /// missing stays missing, for the use case to name (<c>conditions[0].operator</c>).</summary>
    private static List<ConditionRequest> Conditions(string[]? written) =>
        (written ?? []).Select(text => text.Split(' ', 3, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Select(parts =>
            new ConditionRequest(
                parts.ElementAtOrDefault(0),
                parts.ElementAtOrDefault(1),
                parts.Length < 3 ? [] : parts[1] == "in" ? parts[2].Split(',', StringSplitOptions.TrimEntries) : [parts[2]])).ToList();

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
