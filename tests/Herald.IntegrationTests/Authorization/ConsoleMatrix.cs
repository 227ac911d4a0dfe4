using static Herald.IntegrationTests.Authorization.CellRequest;
using static Herald.IntegrationTests.Authorization.Seeds;

namespace Herald.IntegrationTests.Authorization;

/// <summary>
/// The web console's half of the matrix: one entry per page handler (GET, and each POST handler
/// by name), keyed by the page's path as Razor Pages names it. POSTs carry the session's
/// anti-forgery token. A handler without an entry fails
/// <see cref="AuthorizationMatrixTests.Every_console_handler_has_a_rule_in_the_matrix"/>.
/// The console has no sender role: "sender" rules read "administrator" there.
/// </summary>
internal static class ConsoleMatrix
{
    private static readonly Policy ScopeAdministrator = Policy.ScopeAdministrator;
    /// <summary>Messages, rules, subscriptions, relay listeners and accounts: the console's rows are
    /// administrators, who read and change those of their scopes.</summary>
    private static readonly Policy ResourceAdministrator = Policy.Resource(Need.Administrator, Need.Administrator);

    private static readonly Policy ConnectionReader = Policy.Resource(Need.BranchAdministrator, Need.BranchAdministrator);

    /// <summary>The form that changes a connection: its owner's administrators; those below, who read it, are told 403.</summary>
    private static readonly Policy ConnectionEditor = Policy.Resource(Need.Administrator, Need.BranchAdministrator);

    /// <summary>Only the owner of an alert changes it through "My alerts": anyone else is told it does not exist.</summary>
    private static readonly Policy OwnerOnly = new(Need.NoOne, Address.Resource);

    /// <summary>What a rule's or subscription's filter fields say: item.changed, immediately, enabled.</summary>
    private static readonly (string, string)[] Filter = [("eventTypes", "item.changed"), ("frequency", "immediate"), ("enabled", "true")];

    public static readonly IReadOnlyList<MatrixCase> Cases =
    [
        new("GET /Index", Policy.AnyCaller, Effect.Answer) { Global = true, Request = _ => Get("/") },
        new("GET /SignIn", Policy.Anyone, Effect.Answer) { Global = true, Request = _ => Get("signin") },
        new("POST /SignIn", Policy.Anyone, Effect.Answer)
        {
            Global = true, OwnSession = true,
            Request = _ => Posted("signin", ("name", MatrixHost.AdministratorName(MatrixCaller.All[^1])), ("password", MatrixHost.Password), ("returnUrl", "/")),
        },
        new("GET /SignOut", Policy.SignedIn, Effect.Answer) { Global = true, Request = _ => Get("signout") },
        new("POST /SignOut", Policy.SignedIn, Effect.Answer) { Global = true, OwnSession = true, Request = _ => Posted("signout") },
        new("GET /Setup", new Policy(Need.NoOne, Address.Farm), Effect.Answer) { Global = true, Request = _ => Get("setup?token=guess") },
        new("POST /Setup", new Policy(Need.NoOne, Address.Farm), Effect.Answer)
        {
            Global = true, Request = _ => Posted("setup", ("token", "guess"), ("name", "intruder"), ("password", MatrixHost.Password), ("confirm", MatrixHost.Password)),
        },

        // Outgoing email settings of a scope.
        new("GET /Settings", ScopeAdministrator, Effect.Read) { Seed = SettingsAsync, Request = c => Get($"settings?scope={Q(c.Scope)}") },
        new("POST /Settings?handler=Save", ScopeAdministrator, Effect.Write)
        {
            Seed = SettingsAsync, Request = c => Posted($"settings?handler=save&scope={Q(c.Scope)}", SettingsForm(c)), Probe = (h, c) => SettingsRow(h, c.Scope),
        },
        new("POST /Settings?handler=Revert", ScopeAdministrator, Effect.Write)
        {
            Seed = SettingsAsync, Request = c => Posted($"settings?handler=revert&scope={Q(c.Scope)}", ("field", "fromName")), Probe = (h, c) => SettingsRow(h, c.Scope),
        },
        new("POST /Settings?handler=AddScope", ScopeAdministrator, Effect.Write)
        {
            Change = Change.Created, Request = c => Posted($"settings?handler=addscope&scope={Q(c.Scope)}", ("child", "c" + c.Marker)),
            Probe = (h, c) => h.QueryAsync("SELECT path FROM scopes WHERE path = @path", new { path = (c.Scope == "/" ? "" : c.Scope) + "/c" + c.Marker }),
        },
        new("POST /Settings?handler=PublicUrl", Policy.Root, Effect.Write)
        {
            Global = true, Request = c => Posted("settings?handler=publicurl&scope=%2F", ("publicUrl", $"https://m{c.Marker}.example.org")), Probe = (h, _) => PublicUrlRow(h),
        },
        new("POST /Settings?handler=Test", ScopeAdministrator, Effect.Answer)
        {
            Request = c => Posted($"settings?handler=test&scope={Q(c.Scope)}", ("to", "test@example.org"), ("subject", "Test"), ("body", "Test")),
        },

        // SMTP connections.
        new("GET /Connections/Index", Policy.AnyCaller, Effect.List) { Seed = ConnectionAsync, Lists = ConnectionReader, Request = _ => Get("connections") },
        new("GET /Connections/Edit", ConnectionEditor, Effect.Read) { Seed = ConnectionAsync, Request = c => Get($"connections/edit?scope={Q(c.Scope)}&name={c.Seeded.Id}") },
        new("GET /Connections/Edit", Policy.AnyCaller, Effect.Answer) { Variant = "new", Request = c => Get($"connections/edit?scope={Q(c.Scope)}") },
        // Signing a connection in at its OAuth provider: who may change the connection (this one is not OAuth, so an allowed caller is sent back to it).
        new("GET /Connections/SignIn", ConnectionEditor, Effect.Answer) { Seed = ConnectionAsync, Request = c => Get($"connections/signin?scope={Q(c.Scope)}&name={c.Seeded.Id}") },
        new("POST /Connections/Edit?handler=Save", ScopeAdministrator, Effect.Write)
        {
            Variant = "change", Seed = ConnectionAsync,
            Request = c => Posted($"connections/edit?handler=save&scope={Q(c.Scope)}&name={c.Seeded.Id}", ConnectionForm(c, c.Seeded.Marker + ".example")),
            Probe = (h, c) => ConnectionRow(h, c.Scope, c.Seeded.Id),
        },
        new("POST /Connections/Edit?handler=Save", ScopeAdministrator, Effect.Write)
        {
            Variant = "create", Change = Change.Created,
            Request = c => Posted("connections/edit?handler=save", [("owner", c.Scope), ("name", $"new-{c.Number}"), .. ConnectionForm(c, "smtp.example.org")]),
            Probe = (h, c) => ConnectionRow(h, c.Scope, $"new-{c.Number}"),
        },
        new("POST /Connections/Edit?handler=Delete", ScopeAdministrator, Effect.Write)
        {
            Change = Change.Removed, Seed = ConnectionAsync,
            Request = c => Posted($"connections/edit?handler=delete&scope={Q(c.Scope)}&name={c.Seeded.Id}"), Probe = (h, c) => ConnectionRow(h, c.Scope, c.Seeded.Id),
        },
        new("POST /Connections/Edit?handler=Test", ScopeAdministrator, Effect.Answer)
        {
            Seed = ConnectionAsync,
            Request = c => Posted($"connections/edit?handler=test&scope={Q(c.Scope)}&name={c.Seeded.Id}",
                [.. ConnectionForm(c, c.Seeded.Marker + ".example"), ("testFrom", "matrix@example.org"), ("testTo", "test@example.org"), ("testSubject", "T"), ("testBody", "T")]),
        },

        // The queue.
        new("GET /Queue/Index", ScopeAdministrator, Effect.List) { Seed = MessageAsync, Request = c => Get($"queue?scope={Q(c.Scope)}") },
        new("GET /Queue/Message", ResourceAdministrator, Effect.Read) { Seed = MessageAsync, Request = c => Get($"queue/message?id={c.Seeded.Id}") },
        new("POST /Queue/Message?handler=Retry", ResourceAdministrator, Effect.Write)
        {
            Seed = MessageAsync, Request = c => Posted($"queue/message?handler=retry&id={c.Seeded.Id}"), Probe = (h, c) => MessageRow(h, c.Seeded.Id),
        },
        new("POST /Queue/Message?handler=Cancel", ResourceAdministrator, Effect.Write)
        {
            Seed = MessageAsync, Request = c => Posted($"queue/message?handler=cancel&id={c.Seeded.Id}"), Probe = (h, c) => MessageRow(h, c.Seeded.Id),
        },

        // Dead letters: administrators of their scope; a selection names messages, which another scope's administrator is told do not exist.
        new("GET /DeadLetters/Index", ScopeAdministrator, Effect.List) { Variant = "list", Seed = DeadLetterAsync, Request = c => Get($"dead-letters?scope={Q(c.Scope)}") },
        new("GET /DeadLetters/Index", ScopeAdministrator, Effect.Read)
        {
            Variant = "export", Seed = DeadLetterAsync, Request = c => Get($"dead-letters?handler=export&format=csv&scope={Q(c.Scope)}"),
        },
        new("POST /DeadLetters/Index?handler=Retry", ResourceAdministrator, Effect.Write)
        {
            Seed = DeadLetterAsync,
            Request = c => Posted("dead-letters?handler=retry", ("scope", c.Scope), ("selected", $"{c.Seeded.Id}:{DeadLetterAddress(c.Seeded)}")),
            Probe = (h, c) => MessageRow(h, c.Seeded.Id),
        },
        new("POST /DeadLetters/Index?handler=Suppress", ResourceAdministrator, Effect.Write)
        {
            Change = Change.Created, Seed = DeadLetterAsync,
            Request = c => Posted("dead-letters?handler=suppress", ("scope", c.Scope), ("selected", $"{c.Seeded.Id}:{DeadLetterAddress(c.Seeded)}")),
            Probe = (h, c) => SuppressionRow(h, c.Scope, DeadLetterAddress(c.Seeded)),
        },
        new("POST /DeadLetters/Index?handler=RetryAll", ScopeAdministrator, Effect.Write)
        {
            Seed = DeadLetterAsync, Request = c => Posted("dead-letters?handler=retryall", ("scope", c.Scope), ("domain", DeadLetterDomain(c.Seeded))),
            Probe = (h, c) => MessageRow(h, c.Seeded.Id),
        },
        // Suppression lists: administrators of their scope.
        new("GET /Events/Explain", ResourceAdministrator, Effect.Read)
        {
            Seed = ExplainedEventAsync, Request = c => Get($"events/explain?scope={Q(c.Scope)}&id={Uri.EscapeDataString(c.Seeded.Id)}"),
        },
        new("GET /Suppressions/Index", ScopeAdministrator, Effect.List) { Variant = "list", Seed = SuppressionAsync, Request = c => Get($"suppressions?scope={Q(c.Scope)}") },
        new("GET /Suppressions/Index", ScopeAdministrator, Effect.Read)
        {
            Variant = "export", Seed = SuppressionAsync, Request = c => Get($"suppressions?handler=export&format=csv&scope={Q(c.Scope)}"),
        },
        new("POST /Suppressions/Index?handler=Add", ScopeAdministrator, Effect.Write)
        {
            Change = Change.Created,
            Request = c => Posted("suppressions?handler=add", ("scope", c.Scope), ("address", c.Marker + "@example.org"), ("reason", "administrator")),
            Probe = (h, c) => SuppressionRow(h, c.Scope, c.Marker + "@example.org"),
        },
        new("POST /Suppressions/Index?handler=Remove", ResourceAdministrator, Effect.Write)
        {
            Change = Change.Removed, Seed = SuppressionAsync,
            Request = c => Posted("suppressions?handler=remove", ("id", c.Seeded.Id)), Probe = (h, c) => SuppressionRow(h, c.Scope, c.Seeded.Marker + "@example.org"),
        },

        // A scope's bounce mailbox: administrators of the scope (and above).
        new("GET /BounceMailbox/Index", ScopeAdministrator, Effect.Read) { Seed = BounceMailboxAsync, Request = c => Get($"bounce-mailbox?scope={Q(c.Scope)}") },
        new("POST /BounceMailbox/Index?handler=Set", ScopeAdministrator, Effect.Write)
        {
            Seed = BounceMailboxAsync,
            Request = c => Posted("bounce-mailbox?handler=set", ("scope", c.Scope), ("domain", $"m{c.Marker}.example.org")), Probe = (h, c) => BounceMailboxRow(h, c.Scope),
        },
        new("POST /BounceMailbox/Index?handler=Remove", ScopeAdministrator, Effect.Write)
        {
            Change = Change.Removed, Seed = BounceMailboxAsync,
            Request = c => Posted("bounce-mailbox?handler=remove", ("scope", c.Scope)), Probe = (h, c) => BounceMailboxRow(h, c.Scope),
        },
        new("POST /BounceMailbox/Index?handler=Read", ScopeAdministrator, Effect.Write)
        {
            Seed = BounceMailboxAsync, Request = c => Posted("bounce-mailbox?handler=read", ("scope", c.Scope)), Probe = (h, c) => BounceMailboxReadRow(h, c.Scope),
        },

        // Webhooks: administrators of their scope.
        new("GET /Webhooks/Index", ScopeAdministrator, Effect.List) { Variant = "list", Seed = WebhookAsync, Request = c => Get($"webhooks?scope={Q(c.Scope)}") },
        new("GET /Webhooks/Index", ResourceAdministrator, Effect.Read) { Variant = "log", Seed = WebhookAsync, Request = c => Get($"webhooks?id={c.Seeded.Id}") },
        new("POST /Webhooks/Index?handler=Add", ScopeAdministrator, Effect.Write)
        {
            Change = Change.Created,
            Request = c => Posted("webhooks?handler=add", ("scope", c.Scope), ("url", $"https://hooks.example.org/{c.Marker}")),
            Probe = (h, c) => WebhookRowByUrl(h, c.Scope, $"https://hooks.example.org/{c.Marker}"),
        },
        new("POST /Webhooks/Index?handler=Remove", ResourceAdministrator, Effect.Write)
        {
            Change = Change.Removed, Seed = WebhookAsync, Request = c => Posted("webhooks?handler=remove", ("id", c.Seeded.Id)), Probe = (h, c) => WebhookRow(h, c.Seeded.Id),
        },
        new("POST /Webhooks/Index?handler=Enable", ResourceAdministrator, Effect.Write)
        {
            Seed = WebhookAsync, Request = c => Posted("webhooks?handler=enable", ("id", c.Seeded.Id), ("enabled", "false")), Probe = (h, c) => WebhookRow(h, c.Seeded.Id),
        },
        new("POST /Webhooks/Index?handler=Retry", ResourceAdministrator, Effect.Write)
        {
            Seed = FailedWebhookDeliveryAsync,
            Request = c => Posted("webhooks?handler=retry", ("id", c.Seeded.Id), ("delivery", "msg_" + c.Seeded.Marker)),
            Probe = (h, c) => WebhookDeliveryRow(h, "msg_" + c.Seeded.Marker),
        },

        // Failed work: the signed-in administrator's own scope and below, retried one item at a time.
        new("GET /Queue/Failed", Policy.AnyAdministrator, Effect.Answer) { Global = true, Request = _ => Get("queue/failed") },
        new("POST /Queue/Failed?handler=RetryEvent", ResourceAdministrator, Effect.Write)
        {
            Seed = FailedEventAsync,
            Request = c => Posted("queue/failed?handler=retryevent", ("scope", c.Scope), ("id", c.Seeded.Id)),
            Probe = (h, c) => FailedEventRow(h, c.Seeded.Id, c.Scope),
        },
        new("POST /Queue/Failed?handler=RetryMessage", ResourceAdministrator, Effect.Write)
        {
            Seed = MessageAsync, Request = c => Posted("queue/failed?handler=retrymessage", ("id", c.Seeded.Id)), Probe = (h, c) => MessageRow(h, c.Seeded.Id),
        },
        new("POST /Queue/Failed?handler=RetryDigest", ResourceAdministrator, Effect.Write)
        {
            Seed = FailedDigestAsync,
            Request = c => Posted("queue/failed?handler=retrydigest", ("subscription", c.Seeded.Id), ("recipient", "ann@example.org"), ("windowEnd", "86400000")),
            Probe = (h, c) => FailedDigestRow(h, c.Seeded.Id),
        },

        // Notification rules.
        new("GET /Rules/Index", ScopeAdministrator, Effect.List) { Seed = RuleAsync, Request = c => Get($"rules?scope={Q(c.Scope)}") },
        new("GET /Rules/Edit", ResourceAdministrator, Effect.Read) { Seed = RuleAsync, Request = c => Get($"rules/edit?id={c.Seeded.Id}") },
        new("GET /Rules/Edit", Policy.AnyCaller, Effect.Answer) { Variant = "new", Request = c => Get($"rules/edit?scope={Q(c.Scope)}") },
        new("POST /Rules/Edit?handler=Save", ResourceAdministrator, Effect.Write)
        {
            Variant = "change", Seed = RuleAsync,
            Request = c => Posted($"rules/edit?handler=save&id={c.Seeded.Id}", [("name", "Renamed " + c.Marker), ("scope", c.Scope), ("addresses", "ops@example.org"), .. Filter]),
            Probe = (h, c) => RuleRow(h, c.Seeded.Id),
        },
        new("POST /Rules/Edit?handler=Save", ScopeAdministrator, Effect.Write)
        {
            Variant = "create", Change = Change.Created,
            Request = c => Posted("rules/edit?handler=save", [("id", $"rule-new-{c.Number}"), ("name", "New"), ("scope", c.Scope), ("addresses", "ops@example.org"), .. Filter]),
            Probe = (h, c) => RuleRow(h, $"rule-new-{c.Number}"),
        },
        new("POST /Rules/Edit?handler=Remove", ResourceAdministrator, Effect.Write)
        {
            Change = Change.Removed, Seed = RuleAsync, Request = c => Posted($"rules/edit?handler=remove&id={c.Seeded.Id}"), Probe = (h, c) => RuleRow(h, c.Seeded.Id),
        },
        new("POST /Rules/Edit?handler=Test", ResourceAdministrator, Effect.Answer) { Seed = RuleAsync, Request = c => Posted($"rules/edit?handler=test&id={c.Seeded.Id}") },
        new("POST /Rules/Edit?handler=TestDraft", ScopeAdministrator, Effect.Answer) { Request = c => Posted("rules/edit?handler=testdraft", RuleDraftForm(c.Scope)) },

        // Subscriptions.
        new("GET /Subscriptions/Index", ScopeAdministrator, Effect.List) { Seed = SubscriptionAsync, Request = c => Get($"subscriptions?scope={Q(c.Scope)}") },
        new("GET /Subscriptions/Edit", ResourceAdministrator, Effect.Read) { Seed = SubscriptionAsync, Request = c => Get($"subscriptions/edit?id={c.Seeded.Id}") },
        new("GET /Subscriptions/Edit", Policy.AnyCaller, Effect.Answer) { Variant = "new", Request = c => Get($"subscriptions/edit?scope={Q(c.Scope)}") },
        new("POST /Subscriptions/Edit?handler=TestDraft", ScopeAdministrator, Effect.Answer)
        {
            Request = c => Posted("subscriptions/edit?handler=testdraft", SubscriptionDraftForm(c.Scope)),
        },
        new("POST /Subscriptions/Edit?handler=Save", ResourceAdministrator, Effect.Write)
        {
            Variant = "change", Seed = SubscriptionAsync,
            Request = c => Posted($"subscriptions/edit?handler=save&id={c.Seeded.Id}", [("name", "Renamed " + c.Marker), ("scope", c.Scope), ("owner", "group:everyone"), .. Filter]),
            Probe = (h, c) => SubscriptionRow(h, c.Seeded.Id),
        },
        new("POST /Subscriptions/Edit?handler=Save", ScopeAdministrator, Effect.Write)
        {
            Variant = "create", Change = Change.Created,
            Request = c => Posted("subscriptions/edit?handler=save", [("id", $"sub-new-{c.Number}"), ("name", "New"), ("scope", c.Scope), ("owner", "group:everyone"), .. Filter]),
            Probe = (h, c) => SubscriptionRow(h, $"sub-new-{c.Number}"),
        },
        new("POST /Subscriptions/Edit?handler=Remove", ResourceAdministrator, Effect.Write)
        {
            Change = Change.Removed, Seed = SubscriptionAsync, Request = c => Posted($"subscriptions/edit?handler=remove&id={c.Seeded.Id}"), Probe = (h, c) => SubscriptionRow(h, c.Seeded.Id),
        },
        new("POST /Subscriptions/Edit?handler=OptOut", ResourceAdministrator, Effect.Write)
        {
            Change = Change.Created, Seed = SubscriptionAsync,
            Request = c => Posted($"subscriptions/edit?handler=optout&id={c.Seeded.Id}", ("userId", "alice"), ("optOut", "true")), Probe = (h, c) => OptOuts(h, c.Seeded.Id),
        },

        // Access lists.
        new("GET /AccessLists/Index", ScopeAdministrator, Effect.Read) { Seed = async (h, s) => await AccessAsync(h, s) with { Marker = "User bob" }, Request = c => Get($"access?scope={Q(c.Scope)}") },
        new("POST /AccessLists/Index?handler=Grant", ScopeAdministrator, Effect.Write)
        {
            Seed = AccessAsync, Request = c => Posted($"access?handler=grant&scope={Q(c.Scope)}", ("principal", "user:bob"), ("level", "edit")), Probe = (h, c) => AccessRow(h, c.Scope),
        },
        new("POST /AccessLists/Index?handler=Revoke", ScopeAdministrator, Effect.Write)
        {
            Change = Change.Removed, Seed = AccessAsync, Request = c => Posted($"access?handler=revoke&scope={Q(c.Scope)}", ("principal", "user:bob")), Probe = (h, c) => AccessRow(h, c.Scope),
        },

        // The relay.
        new("GET /Relay/Index", Policy.AnyCaller, Effect.List) { Variant = "listeners", Seed = ListenerAsync, Lists = ScopeAdministrator, Request = _ => Get("relay") },
        new("GET /Relay/Index", Policy.AnyCaller, Effect.List) { Variant = "accounts", Seed = AccountAsync, Lists = ScopeAdministrator, Request = _ => Get("relay") },
        new("POST /Relay/Index?handler=AddAccount", ScopeAdministrator, Effect.Write)
        {
            Variant = "create", Change = Change.Created,
            Request = c => Posted("relay?handler=addaccount", ("user", "r" + c.Marker), ("scope", c.Scope), ("password", "relay-password-" + c.Marker)),
            Probe = (h, c) => AccountRow(h, "r" + c.Marker),
        },
        new("POST /Relay/Index?handler=AddAccount", ResourceAdministrator, Effect.Write)
        {
            Variant = "change", Seed = AccountAsync,
            Request = c => Posted("relay?handler=addaccount", ("user", c.Seeded.Id), ("scope", c.Scope), ("password", "relay-password-" + c.Marker)),
            Probe = (h, c) => AccountRow(h, c.Seeded.Id),
        },
        new("POST /Relay/Index?handler=RemoveAccount", ResourceAdministrator, Effect.Write)
        {
            Change = Change.Removed, Seed = AccountAsync, Request = c => Posted("relay?handler=removeaccount", ("user", c.Seeded.Id)), Probe = (h, c) => AccountRow(h, c.Seeded.Id),
        },
        new("GET /Relay/Listener", ResourceAdministrator, Effect.Read) { Seed = ListenerAsync, Request = c => Get($"relay/listener?listen={Uri.EscapeDataString(c.Seeded.Id)}") },
        new("GET /Relay/Listener", Policy.Root, Effect.Answer) { Variant = "new", Global = true, Request = _ => Get("relay/listener") },
        new("POST /Relay/Listener?handler=Save", ResourceAdministrator, Effect.Write)
        {
            Variant = "change its lists", Seed = ListenerAsync,
            Request = c => Posted($"relay/listener?handler=save&listen={Uri.EscapeDataString(c.Seeded.Id)}",
                ("scope", c.Scope), ("access", "only-list"), ("entries", $"10.{c.Number % 250}.0.0/16"), ("auth", "none")),
            Probe = (h, c) => ListenerRow(h, c.Seeded.Id),
        },
        new("POST /Relay/Listener?handler=Save", new Policy(Need.RootAdministrator), Effect.Write)
        {
            Variant = "create", Change = Change.Created,
            Request = c => Posted("relay/listener?handler=save", ("listen", $"192.0.2.3:{10000 + c.Number}"), ("scope", c.Scope), ("access", "only-list"), ("entries", "127.0.0.0/8"), ("auth", "none")),
            Probe = (h, c) => ListenerRow(h, $"192.0.2.3:{10000 + c.Number}"),
        },
        new("POST /Relay/Listener?handler=Remove", Policy.Resource(Need.RootAdministrator, Need.Administrator), Effect.Write)
        {
            Change = Change.Removed, Seed = ListenerAsync,
            Request = c => Posted($"relay/listener?handler=remove&listen={Uri.EscapeDataString(c.Seeded.Id)}"), Probe = (h, c) => ListenerRow(h, c.Seeded.Id),
        },

        // The directory: read by every administrator, changed by those of /.
        new("GET /Users/Index", Policy.AnyAdministrator, Effect.Read) { Global = true, Seed = UserAsync, Request = c => Get($"users?q={c.Seeded.Id}") },
        new("GET /Users/Edit", Policy.Root, Effect.Read) { Global = true, Seed = UserAsync, Request = c => Get($"users/edit?id={c.Seeded.Id}") },
        new("POST /Users/Edit?handler=Save", Policy.Root, Effect.Write)
        {
            Global = true, Seed = UserAsync,
            Request = c => Posted($"users/edit?handler=save&id={c.Seeded.Id}", ("name", "Renamed " + c.Marker), ("email", c.Seeded.Id + "@example.org"), ("timeZone", "UTC"), ("language", "en")),
            Probe = (h, c) => UserRow(h, c.Seeded.Id),
        },
        new("POST /Users/Edit?handler=Remove", Policy.Root, Effect.Write)
        {
            Global = true, Change = Change.Removed, Seed = UserAsync, Request = c => Posted($"users/edit?handler=remove&id={c.Seeded.Id}"), Probe = (h, c) => UserRow(h, c.Seeded.Id),
        },
        new("GET /Users/Import", Policy.Root, Effect.Answer) { Global = true, Request = _ => Get("users/import") },
        new("POST /Users/Import", Policy.Root, Effect.Write)
        {
            Global = true, Change = Change.Created,
            Request = c => new CellRequest(HttpMethod.Post, "users/import") { File = ("file", "people.json", $$"""{"users":[{"id":"i{{c.Marker}}","name":"Imported","email":"imported@example.org"}]}""") },
            Probe = (h, c) => UserRow(h, "i" + c.Marker),
        },
        new("GET /Groups/Index", Policy.AnyAdministrator, Effect.Read) { Global = true, Seed = GroupAsync, Request = _ => Get("groups") },
        new("GET /Groups/Edit", ScopeAdministrator, Effect.Read) { Seed = GroupAsync, Request = c => Get($"groups/edit?id={c.Seeded.Id}") },
        new("POST /Groups/Edit?handler=Save", ScopeAdministrator, Effect.Write)
        {
            Seed = GroupAsync,
            Request = c => Posted($"groups/edit?handler=save&id={c.Seeded.Id}", ("name", "Renamed " + c.Marker), ("scope", c.Scope), ("delivery", "members"), ("members", "user:alice")),
            Probe = (h, c) => GroupRow(h, c.Seeded.Id),
        },
        new("POST /Groups/Edit?handler=Save", ScopeAdministrator, Effect.Write)
        {
            Variant = "new", Change = Change.Created,
            Request = c => Posted("groups/edit?handler=save", ("id", $"group-new-{c.Number}"), ("name", "New"), ("scope", c.Scope), ("delivery", "members")),
            Probe = (h, c) => GroupRow(h, $"group-new-{c.Number}"),
        },
        new("POST /Groups/Edit?handler=Remove", ScopeAdministrator, Effect.Write)
        {
            Change = Change.Removed, Seed = GroupAsync, Request = c => Posted($"groups/edit?handler=remove&id={c.Seeded.Id}"), Probe = (h, c) => GroupRow(h, c.Seeded.Id),
        },

        // My alerts: the signed-in person's own, or an administrator's as the directory user of the same name.
        new("GET /SelfService/Index", Policy.SignedIn, Effect.Answer) { Global = true, Request = _ => Get("me") },
        new("POST /SelfService/Index?handler=Add", new Policy(Need.SignedIn), Effect.Write)
        {
            Change = Change.Created, Request = c => Posted("me?handler=add", [("name", "Mine " + c.Marker), ("scope", c.Scope), .. Filter]),
            Probe = (h, c) => h.QueryAsync("SELECT id, owner_id FROM subscriptions WHERE name = @name", new { name = "Mine " + c.Marker }),
        },
        new("POST /SelfService/Index?handler=Frequency", new Policy(Need.SignedIn), Effect.Write)
        {
            Variant = "mine", SeedFor = OwnAlertAsync,
            Request = c => Posted("me?handler=frequency", ("id", c.Seeded.Id), ("frequency", "daily"), ("at", "08:00")), Probe = (h, c) => SubscriptionRow(h, c.Seeded.Id),
        },
        new("POST /SelfService/Index?handler=Frequency", OwnerOnly, Effect.Write)
        {
            Variant = "someone else's", Seed = AlicesAlertAsync,
            Request = c => Posted("me?handler=frequency", ("id", c.Seeded.Id), ("frequency", "daily"), ("at", "08:00")), Probe = (h, c) => SubscriptionRow(h, c.Seeded.Id),
        },
        new("POST /SelfService/Index?handler=Remove", new Policy(Need.SignedIn), Effect.Write)
        {
            Variant = "mine", Change = Change.Removed, SeedFor = OwnAlertAsync,
            Request = c => Posted("me?handler=remove", ("id", c.Seeded.Id)), Probe = (h, c) => SubscriptionRow(h, c.Seeded.Id),
        },
        new("POST /SelfService/Index?handler=Remove", OwnerOnly, Effect.Write)
        {
            Variant = "someone else's", Change = Change.Removed, Seed = AlicesAlertAsync,
            Request = c => Posted("me?handler=remove", ("id", c.Seeded.Id)), Probe = (h, c) => SubscriptionRow(h, c.Seeded.Id),
        },
        new("POST /SelfService/Index?handler=Enabled", new Policy(Need.SignedIn), Effect.Write)
        {
            Variant = "mine", SeedFor = OwnAlertAsync,
            Request = c => Posted("me?handler=enabled", ("id", c.Seeded.Id), ("enabled", "false")), Probe = (h, c) => SubscriptionRow(h, c.Seeded.Id),
        },
        new("POST /SelfService/Index?handler=Enabled", OwnerOnly, Effect.Write)
        {
            Variant = "someone else's", Seed = AlicesAlertAsync,
            Request = c => Posted("me?handler=enabled", ("id", c.Seeded.Id), ("enabled", "false")), Probe = (h, c) => SubscriptionRow(h, c.Seeded.Id),
        },
        new("POST /SelfService/Index?handler=Preferences", Policy.SignedIn, Effect.Write)
        {
            Global = true,
            Request = c => Posted("me?handler=preferences", ("timeZone", "Europe/Berlin"), ("language", $"en-x-m{c.Number}")),
            Probe = (h, c) => PreferencesRow(h, OwnUser(c.Caller)),
        },

        // A person's ways in: the links prove who they are, so anyone holding one may open it.
        new("GET /SelfService/Manage", Policy.Anyone, Effect.Read) { Global = true, Seed = ManageLinkAsync, Request = c => Get($"me/manage/{c.Seeded.Id}") },
        new("POST /SelfService/Manage", Policy.Anyone, Effect.Answer) { Global = true, OwnSession = true, Seed = ManageLinkAsync, Request = c => Posted($"me/manage/{c.Seeded.Id}") },
        new("GET /SelfService/RequestLink", Policy.Anyone, Effect.Answer) { Global = true, Request = _ => Get("signin/link") },
        new("POST /SelfService/RequestLink", Policy.Anyone, Effect.Answer)
        {
            Global = true, OwnSession = true, Request = c => Posted("signin/link", ("email", $"nobody{c.Number}@example.org")),
        },
        new("GET /SelfService/UseLink", Policy.Anyone, Effect.Read) { Global = true, SeedFor = SignInLinkAsync, Request = c => Get($"signin/link/{c.Seeded.Id}") },
        new("POST /SelfService/UseLink", Policy.Anyone, Effect.Answer)
        {
            Global = true, OwnSession = true, SeedFor = SignInLinkAsync, Request = c => Posted($"signin/link/{c.Seeded.Id}"),
        },
        new("POST /SelfService/Index?handler=OptOut", new Policy(Need.SignedIn), Effect.Write)
        {
            Change = Change.Created, Seed = SubscriptionAsync,
            Request = c => Posted("me?handler=optout", ("id", c.Seeded.Id), ("optOut", "true")), Probe = (h, c) => OptOuts(h, c.Seeded.Id),
        },
    ];

    /// <summary>The settings form as the page shows it for the matrix's scopes, with the From name typed over.</summary>
    private static (string, string)[] SettingsForm(Cell c) =>
    [
        ("enabled", "true"), ("connection", "/:default"), ("from", "matrix@example.org"), ("fromName", "Desk " + c.Marker), ("override", "fromName"),
        ("replyTo", ""), ("charset", "utf-8"), ("impersonation", "never"),
    ];

    private static (string, string)[] ConnectionForm(Cell c, string server) =>
    [
        ("server", server), ("port", "25"), ("security", "none"), ("auth", "anonymous"), ("connectionLimit", "4"),
        ("rateLimitPerMinute", (1000 + c.Number).ToString(System.Globalization.CultureInfo.InvariantCulture)), ("nodeTags", MatrixHost.ElsewhereTag),
    ];

    /// <summary>An alert of the caller's own directory user (alice's for the signed-out visitor).</summary>
    private static Task<Seeded> OwnAlertAsync(MatrixHost host, string scope, MatrixCaller caller) =>
        SubscriptionAsync(host, scope, "user:" + OwnUser(caller));

    /// <summary>The caller's own directory user (alice for the signed-out visitor, who has none).</summary>
    private static string OwnUser(MatrixCaller caller) => caller.Role switch
    {
        Role.None => "alice",
        Role.Person => MatrixHost.PersonName(caller),
        _ => MatrixHost.AdministratorName(caller),
    };

    private static Task<Seeded> AlicesAlertAsync(MatrixHost host, string scope) => SubscriptionAsync(host, scope, "user:alice");
}
