using static Herald.IntegrationTests.Authorization.CellRequest;
using static Herald.IntegrationTests.Authorization.Seeds;

namespace Herald.IntegrationTests.Authorization;

/// <summary>
/// The HTTP API's half of the matrix: one entry per endpoint routing knows (method and route
/// pattern), with the rule DESIGN.md and the README give it. An endpoint without an entry fails
/// <see cref="AuthorizationMatrixTests.Every_api_endpoint_has_a_rule_in_the_matrix"/>.
/// </summary>
internal static class ApiMatrix
{
    private static readonly Policy ScopeAdministrator = Policy.ScopeAdministrator;
    private static readonly Policy ScopeSender = Policy.ScopeSender;
    /// <summary>Messages and subscriptions: read and changed by the senders and administrators of their scope.</summary>
    private static readonly Policy SendersThing = Policy.Resource(Need.Sender, Need.Sender);

    /// <summary>Retry and cancel: administrators, of a message its senders may read.</summary>
    private static readonly Policy MessageAdministration = Policy.Resource(Need.Administrator, Need.Sender);

    /// <summary>Rules, relay listeners and accounts: their scope's administrators alone read and change them.</summary>
    private static readonly Policy AdministratorsThing = Policy.Resource(Need.Administrator, Need.Administrator);

    /// <summary>A connection: the administrators of its owner (and above) change it; those of the
    /// scopes below, which use it, read it.</summary>
    private static readonly Policy ConnectionReader = Policy.Resource(Need.BranchAdministrator, Need.BranchAdministrator);

    /// <summary>Relay listeners bind endpoints of every node: only administrators of / create,
    /// move and remove them; their scope's administrators read them.</summary>
    private static readonly Policy ListenerOwner = Policy.Resource(Need.RootAdministrator, Need.Administrator);

    public static readonly IReadOnlyList<MatrixCase> Cases =
    [
        // Anyone: health, the OpenAPI document, the console's stylesheet and script, an unsubscribe link.
        new("GET /healthz", Policy.Anyone, Effect.Answer) { Global = true, Request = _ => Get("healthz") },
        new("GET /readyz", Policy.Anyone, Effect.Answer) { Global = true, Request = _ => Get("readyz") },
        new("GET /openapi/{documentName}.json", Policy.Anyone, Effect.Answer) { Global = true, Request = _ => Get("openapi/v1.json") },
        new("GET /console.css", Policy.Anyone, Effect.Answer) { Global = true, Request = _ => Get("console.css") },
        new("GET /console.js", Policy.Anyone, Effect.Answer) { Global = true, Request = _ => Get("console.js") },
        new("GET /favicon.svg", Policy.Anyone, Effect.Answer) { Global = true, Request = _ => Get("favicon.svg") },
        new("GET /favicon.ico", Policy.Anyone, Effect.Answer) { Global = true, Request = _ => Get("favicon.ico") },
        // The console's "Sign in with …": the provider's challenge (back to /signin on this node, where it is off).
        new("GET /signin/oidc", Policy.Anyone, Effect.Answer) { Global = true, Request = _ => Get("signin/oidc") },
        new("GET /unsubscribe/{token}", Policy.Anyone, Effect.Answer)
        {
            Seed = UnsubscribeLinkAsync, Request = c => Get($"unsubscribe/{c.Seeded.Id}"),
        },
        new("POST /unsubscribe/{token}", Policy.Anyone, Effect.Write)
        {
            Seed = UnsubscribeLinkAsync, Request = c => Post($"unsubscribe/{c.Seeded.Id}"), Probe = (h, c) => SubscriptionRow(h, c.Seeded.Marker),
        },
        new("POST /unsubscribe/{token}/all", Policy.Anyone, Effect.Write)
        {
            Change = Change.Created, Seed = EverythingFormAsync,
            Request = c => new CellRequest(HttpMethod.Post, $"unsubscribe/{c.Seeded.Id}/all") { Form = EverythingForms[c.Seeded.Id].Form, Cookie = EverythingForms[c.Seeded.Id].Cookie },
            Probe = (h, c) => SuppressionRow(h, c.Scope, c.Seeded.Marker + "@example.org"),
        },
        new("GET /metrics", Policy.Root, Effect.Answer) { Global = true, Request = _ => Get("metrics") },

        // Messages.
        new("POST /api/v1/messages", ScopeSender, Effect.Write)
        {
            Change = Change.Created,
            Request = c => new CellRequest(HttpMethod.Post, "api/v1/messages") { Json = new { scope = c.Scope, to = new[] { "rcpt@example.org" }, subject = "S", text = "T", idempotencyKey = c.Marker } },
            Probe = (h, c) => MessagesKeyed(h, c.Scope, c.Marker),
        },
        new("POST /api/v1/messages/batch", ScopeSender, Effect.Write)
        {
            Change = Change.Created,
            Request = c => Post("api/v1/messages/batch", new { messages = new[] { new { scope = c.Scope, to = new[] { "rcpt@example.org" }, subject = "S", text = "T", idempotencyKey = c.Marker } } }),
            Probe = (h, c) => MessagesKeyed(h, c.Scope, c.Marker),
        },
        new("GET /api/v1/messages/{id}", SendersThing, Effect.Read) { Seed = MessageAsync, Request = c => Get($"api/v1/messages/{c.Seeded.Id}") },
        new("GET /api/v1/messages", ScopeAdministrator, Effect.List) { Seed = MessageAsync, Request = c => Get($"api/v1/messages?scope={Q(c.Scope)}") },
        new("POST /api/v1/messages/{id}/retry", MessageAdministration, Effect.Write)
        {
            Seed = MessageAsync, Request = c => Post($"api/v1/messages/{c.Seeded.Id}/retry"), Probe = (h, c) => MessageRow(h, c.Seeded.Id),
        },
        new("POST /api/v1/messages/{id}/cancel", MessageAdministration, Effect.Write)
        {
            Seed = MessageAsync, Request = c => Post($"api/v1/messages/{c.Seeded.Id}/cancel"), Probe = (h, c) => MessageRow(h, c.Seeded.Id),
        },

        // A scope's outgoing email settings and its test email.
        new("GET /api/v1/settings/outgoing", ScopeAdministrator, Effect.Read) { Seed = SettingsAsync, Request = c => Get($"api/v1/settings/outgoing?scope={Q(c.Scope)}") },
        new("PUT /api/v1/settings/outgoing", ScopeAdministrator, Effect.Write)
        {
            Request = c => Put($"api/v1/settings/outgoing?scope={Q(c.Scope)}", new { fromName = "Desk " + c.Marker }), Probe = (h, c) => SettingsRow(h, c.Scope),
        },
        new("GET /api/v1/settings/public-url", Policy.AnyAdministrator, Effect.Answer) { Global = true, Request = _ => Get("api/v1/settings/public-url") },
        new("PUT /api/v1/settings/public-url", Policy.Root, Effect.Write)
        {
            Global = true, Request = c => Put("api/v1/settings/public-url", new { publicUrl = $"https://m{c.Marker}.example.org" }), Probe = (h, _) => PublicUrlRow(h),
        },
        new("POST /api/v1/settings/test-email", ScopeAdministrator, Effect.Answer)
        {
            Request = c => Post($"api/v1/settings/test-email?scope={Q(c.Scope)}", new { to = new[] { "test@example.org" } }),
        },

        // SMTP connections, owned by a scope.
        new("GET /api/v1/connections", Policy.AnyCaller, Effect.List) { Seed = ConnectionAsync, Lists = ConnectionReader, Request = _ => Get("api/v1/connections") },
        new("GET /api/v1/connections/{name}", ConnectionReader, Effect.Read) { Seed = ConnectionAsync, Request = c => Get($"api/v1/connections/{c.Seeded.Id}?scope={Q(c.Scope)}") },
        new("PUT /api/v1/connections/{name}", ScopeAdministrator, Effect.Write)
        {
            Variant = "change", Seed = ConnectionAsync,
            Request = c => Put($"api/v1/connections/{c.Seeded.Id}?scope={Q(c.Scope)}", new { rateLimitPerMinute = 1000 + c.Number }),
            Probe = (h, c) => ConnectionRow(h, c.Scope, c.Seeded.Id),
        },
        new("PUT /api/v1/connections/{name}", ScopeAdministrator, Effect.Write)
        {
            Variant = "create", Change = Change.Created,
            Request = c => Put($"api/v1/connections/new-{c.Number}?scope={Q(c.Scope)}", new { server = "smtp.example.org", port = 25, security = "none", auth = "anonymous", nodeTags = new[] { MatrixHost.ElsewhereTag } }),
            Probe = (h, c) => ConnectionRow(h, c.Scope, $"new-{c.Number}"),
        },
        new("DELETE /api/v1/connections/{name}", ScopeAdministrator, Effect.Write)
        {
            Change = Change.Removed, Seed = ConnectionAsync,
            Request = c => Delete($"api/v1/connections/{c.Seeded.Id}?scope={Q(c.Scope)}"), Probe = (h, c) => ConnectionRow(h, c.Scope, c.Seeded.Id),
        },

        // Relay listeners and accounts.
        new("GET /api/v1/relay/listeners", Policy.AnyCaller, Effect.List) { Seed = ListenerAsync, Lists = ScopeAdministrator, Request = _ => Get("api/v1/relay/listeners") },
        new("GET /api/v1/relay/listeners/{listen}", AdministratorsThing, Effect.Read)
        {
            Seed = ListenerAsync, Request = c => Get($"api/v1/relay/listeners/{Uri.EscapeDataString(c.Seeded.Id)}"),
        },
        new("PUT /api/v1/relay/listeners/{listen}", AdministratorsThing, Effect.Write)
        {
            Variant = "change its lists", Seed = ListenerAsync,
            Request = c => Put($"api/v1/relay/listeners/{Uri.EscapeDataString(c.Seeded.Id)}", new { entries = new[] { $"10.{c.Number % 250}.0.0/16" } }),
            Probe = (h, c) => ListenerRow(h, c.Seeded.Id),
        },
        new("PUT /api/v1/relay/listeners/{listen}", new Policy(Need.RootAdministrator), Effect.Write)
        {
            Variant = "create", Change = Change.Created,
            Request = c => Put($"api/v1/relay/listeners/{Uri.EscapeDataString($"192.0.2.2:{10000 + c.Number}")}", new { scope = c.Scope, access = "only-list", entries = new[] { "127.0.0.0/8" }, auth = "none" }),
            Probe = (h, c) => ListenerRow(h, $"192.0.2.2:{10000 + c.Number}"),
        },
        new("DELETE /api/v1/relay/listeners/{listen}", ListenerOwner, Effect.Write)
        {
            Change = Change.Removed, Seed = ListenerAsync,
            Request = c => Delete($"api/v1/relay/listeners/{Uri.EscapeDataString(c.Seeded.Id)}"), Probe = (h, c) => ListenerRow(h, c.Seeded.Id),
        },
        new("GET /api/v1/relay/accounts", Policy.AnyCaller, Effect.List) { Seed = AccountAsync, Lists = ScopeAdministrator, Request = _ => Get("api/v1/relay/accounts") },
        new("PUT /api/v1/relay/accounts/{user}", AdministratorsThing, Effect.Write)
        {
            Variant = "change", Seed = AccountAsync,
            Request = c => Put($"api/v1/relay/accounts/{c.Seeded.Id}", new { scope = c.Scope, password = "relay-password-" + c.Marker }),
            Probe = (h, c) => AccountRow(h, c.Seeded.Id),
        },
        new("PUT /api/v1/relay/accounts/{user}", ScopeAdministrator, Effect.Write)
        {
            Variant = "create", Change = Change.Created,
            Request = c => Put($"api/v1/relay/accounts/r{c.Marker}", new { scope = c.Scope, password = "relay-password-" + c.Marker }),
            Probe = (h, c) => AccountRow(h, "r" + c.Marker),
        },
        new("DELETE /api/v1/relay/accounts/{user}", AdministratorsThing, Effect.Write)
        {
            Change = Change.Removed, Seed = AccountAsync, Request = c => Delete($"api/v1/relay/accounts/{c.Seeded.Id}"), Probe = (h, c) => AccountRow(h, c.Seeded.Id),
        },

        // Templates.
        new("GET /api/v1/templates", ScopeAdministrator, Effect.Read) { Seed = TemplateAsync, Request = c => Get($"api/v1/templates?scope={Q(c.Scope)}") },
        new("GET /api/v1/templates/{type}", ScopeAdministrator, Effect.Read) { Seed = TemplateAsync, Request = c => Get($"api/v1/templates/item.changed?scope={Q(c.Scope)}") },
        new("PUT /api/v1/templates/{type}", ScopeAdministrator, Effect.Write)
        {
            Seed = TemplateAsync,
            Request = c => Put($"api/v1/templates/item.changed?scope={Q(c.Scope)}", new { subject = "Now " + c.Marker, text = "{{ event.title }}" }),
            Probe = (h, c) => TemplateRow(h, c.Scope),
        },
        new("DELETE /api/v1/templates/{type}", ScopeAdministrator, Effect.Write)
        {
            Change = Change.Removed, Seed = TemplateAsync, Request = c => Delete($"api/v1/templates/item.changed?scope={Q(c.Scope)}"), Probe = (h, c) => TemplateRow(h, c.Scope),
        },
        new("POST /api/v1/templates/preview", ScopeAdministrator, Effect.Read) { Seed = TemplateAsync, Request = c => Post("api/v1/templates/preview", new { scope = c.Scope, type = "item.changed" }) },

        // The directory: one for the farm.
        new("GET /api/v1/users", Policy.AnyAdministrator, Effect.Read) { Global = true, Seed = UserAsync, Request = _ => Get("api/v1/users") },
        new("GET /api/v1/users/{id}", Policy.AnyAdministrator, Effect.Read) { Global = true, Seed = UserAsync, Request = c => Get($"api/v1/users/{c.Seeded.Id}") },
        new("PUT /api/v1/users/{id}", Policy.Root, Effect.Write)
        {
            Global = true, Seed = UserAsync, Request = c => Put($"api/v1/users/{c.Seeded.Id}", new { name = "Renamed " + c.Marker }), Probe = (h, c) => UserRow(h, c.Seeded.Id),
        },
        new("DELETE /api/v1/users/{id}", Policy.Root, Effect.Write)
        {
            Global = true, Change = Change.Removed, Seed = UserAsync, Request = c => Delete($"api/v1/users/{c.Seeded.Id}"), Probe = (h, c) => UserRow(h, c.Seeded.Id),
        },
        new("GET /api/v1/groups", Policy.AnyAdministrator, Effect.Read) { Global = true, Seed = GroupAsync, Request = _ => Get("api/v1/groups") },
        new("GET /api/v1/groups/{id}", Policy.AnyAdministrator, Effect.Read) { Global = true, Seed = GroupAsync, Request = c => Get($"api/v1/groups/{c.Seeded.Id}") },
        new("GET /api/v1/groups/{id}/members", Policy.AnyAdministrator, Effect.Read) { Global = true, Seed = GroupAsync, Request = c => Get($"api/v1/groups/{c.Seeded.Id}/members?expand=true") },
        // A group belongs to a scope: its administrators (and those above) change it; every
        // administrator reads it, so another scope's administrator is told 403, not 404.
        new("PUT /api/v1/groups/{id}", ScopeAdministrator, Effect.Write)
        {
            Seed = GroupAsync, Request = c => Put($"api/v1/groups/{c.Seeded.Id}", new { name = "Renamed " + c.Marker }), Probe = (h, c) => GroupRow(h, c.Seeded.Id),
        },
        new("PUT /api/v1/groups/{id}", ScopeAdministrator, Effect.Write)
        {
            Variant = "new", Change = Change.Created,
            Request = c => Put($"api/v1/groups/group-new-{c.Number}", new { name = "New", scope = c.Scope }), Probe = (h, c) => GroupRow(h, $"group-new-{c.Number}"),
        },
        new("DELETE /api/v1/groups/{id}", ScopeAdministrator, Effect.Write)
        {
            Change = Change.Removed, Seed = GroupAsync, Request = c => Delete($"api/v1/groups/{c.Seeded.Id}"), Probe = (h, c) => GroupRow(h, c.Seeded.Id),
        },
        new("POST /api/v1/directory/import", Policy.Root, Effect.Write)
        {
            Global = true, Change = Change.Created,
            Request = c => Post("api/v1/directory/import", new { users = new[] { new { id = "i" + c.Marker, name = "Imported", email = "imported@example.org" } } }),
            Probe = (h, c) => UserRow(h, "i" + c.Marker),
        },

        // Directory sources: their users are every scope's, so only administrators of / see or change them.
        new("GET /api/v1/directory/sources", Policy.Root, Effect.Read) { Global = true, Seed = DirectorySourceAsync, Request = _ => Get("api/v1/directory/sources") },
        new("GET /api/v1/directory/sources/{name}", Policy.Root, Effect.Read) { Global = true, Seed = DirectorySourceAsync, Request = c => Get($"api/v1/directory/sources/{c.Seeded.Id}") },
        new("PUT /api/v1/directory/sources/{name}", Policy.Root, Effect.Write)
        {
            Global = true, Seed = DirectorySourceAsync,
            Request = c => Put($"api/v1/directory/sources/{c.Seeded.Id}", new { url = "ldap://127.0.0.1:1", tls = "none", userFilter = $"(description=changed{c.Marker})" }),
            Probe = (h, c) => DirectorySourceRow(h, c.Seeded.Id),
        },
        new("PUT /api/v1/directory/sources/{name}", Policy.Root, Effect.Write)
        {
            Variant = "new", Global = true, Change = Change.Created,
            Request = c => Put($"api/v1/directory/sources/new-{c.Number}", new { url = "ldaps://evil.example", bindDn = "cn=x,dc=y", baseDns = new[] { "dc=y" } }),
            Probe = (h, c) => DirectorySourceRow(h, $"new-{c.Number}"),
        },
        new("DELETE /api/v1/directory/sources/{name}", Policy.Root, Effect.Write)
        {
            Global = true, Change = Change.Removed, Seed = DirectorySourceAsync, Request = c => Delete($"api/v1/directory/sources/{c.Seeded.Id}"),
            Probe = (h, c) => DirectorySourceRow(h, c.Seeded.Id),
        },

        // Access lists.
        new("GET /api/v1/access", ScopeAdministrator, Effect.Read) { Seed = AccessAsync, Request = c => Get($"api/v1/access?scope={Q(c.Scope)}") },
        new("PUT /api/v1/access", ScopeAdministrator, Effect.Write)
        {
            Seed = AccessAsync, Request = c => Put("api/v1/access", new { scope = c.Scope, principal = "user:bob", level = "edit" }), Probe = (h, c) => AccessRow(h, c.Scope),
        },
        new("DELETE /api/v1/access", ScopeAdministrator, Effect.Write)
        {
            Change = Change.Removed, Seed = AccessAsync, Request = c => Delete($"api/v1/access?scope={Q(c.Scope)}&principal=user:bob"), Probe = (h, c) => AccessRow(h, c.Scope),
        },

        // Events.
        new("POST /api/v1/events", ScopeSender, Effect.Write)
        {
            Change = Change.Created,
            Request = c => Post("api/v1/events", new { id = "ev-" + c.Marker, type = "pipeline.failed", scope = c.Scope, resourcePath = "/builds/1", title = "Build" }),
            Probe = (h, c) => EventRow(h, "ev-" + c.Marker, c.Scope),
        },

        new("GET /api/v1/events", ScopeAdministrator, Effect.Read)
        {
            Variant = "failed", Seed = FailedEventAsync, Request = c => Get($"api/v1/events?state=failed&scope={Q(c.Scope)}"),
        },
        new("POST /api/v1/events/{id}/retry", MessageAdministration, Effect.Write)
        {
            Seed = FailedEventAsync,
            Request = c => Post($"api/v1/events/{Uri.EscapeDataString(c.Seeded.Id)}/retry?scope={Q(c.Scope)}"),
            Probe = (h, c) => FailedEventRow(h, c.Seeded.Id, c.Scope),
        },
        new("GET /api/v1/events/{id}/explain", AdministratorsThing, Effect.Read)
        {
            Seed = ExplainedEventAsync, Request = c => Get($"api/v1/events/{Uri.EscapeDataString(c.Seeded.Id)}/explain?scope={Q(c.Scope)}"),
        },

        // Subscriptions: managed by the applications holding a sender or administrator key of their scope.
        new("GET /api/v1/subscriptions", ScopeSender, Effect.List)
        {
            Variant = "?scope=", Seed = SubscriptionAsync, Request = c => Get($"api/v1/subscriptions?scope={Q(c.Scope)}"),
        },
        new("GET /api/v1/subscriptions", Policy.AnyCaller, Effect.List) { Variant = "every scope", Seed = SubscriptionAsync, Lists = ScopeSender, Request = _ => Get("api/v1/subscriptions") },
        new("POST /api/v1/subscriptions", ScopeSender, Effect.Write)
        {
            Change = Change.Created,
            Request = c => Post("api/v1/subscriptions", new { id = $"sub-new-{c.Number}", scope = c.Scope, owner = "group:everyone", name = "New", eventTypes = new[] { "item.changed" } }),
            Probe = (h, c) => SubscriptionRow(h, $"sub-new-{c.Number}"),
        },
        new("POST /api/v1/subscriptions/test", ScopeSender, Effect.Answer) { Request = c => Post("api/v1/subscriptions/test", SubscriptionDraft(c.Scope)) },
        new("GET /api/v1/subscriptions/{id}", SendersThing, Effect.Read) { Seed = SubscriptionAsync, Request = c => Get($"api/v1/subscriptions/{c.Seeded.Id}") },
        new("PUT /api/v1/subscriptions/{id}", SendersThing, Effect.Write)
        {
            Seed = SubscriptionAsync,
            Request = c => Put($"api/v1/subscriptions/{c.Seeded.Id}", new { scope = c.Scope, owner = "group:everyone", name = "Renamed " + c.Marker, eventTypes = new[] { "item.changed" } }),
            Probe = (h, c) => SubscriptionRow(h, c.Seeded.Id),
        },
        new("DELETE /api/v1/subscriptions/{id}", SendersThing, Effect.Write)
        {
            Change = Change.Removed, Seed = SubscriptionAsync, Request = c => Delete($"api/v1/subscriptions/{c.Seeded.Id}"), Probe = (h, c) => SubscriptionRow(h, c.Seeded.Id),
        },
        new("PUT /api/v1/subscriptions/{id}/opt-outs/{userId}", SendersThing, Effect.Write)
        {
            Change = Change.Created, Seed = SubscriptionAsync, Request = c => Put($"api/v1/subscriptions/{c.Seeded.Id}/opt-outs/alice", null), Probe = (h, c) => OptOuts(h, c.Seeded.Id),
        },
        new("DELETE /api/v1/subscriptions/{id}/opt-outs/{userId}", SendersThing, Effect.Write)
        {
            Change = Change.Removed, Seed = OptedOutAsync, Request = c => Delete($"api/v1/subscriptions/{c.Seeded.Id}/opt-outs/alice"), Probe = (h, c) => OptOuts(h, c.Seeded.Id),
        },

        // Notification rules: administrators of their scope.
        new("GET /api/v1/rules", ScopeAdministrator, Effect.List) { Variant = "?scope=", Seed = RuleAsync, Request = c => Get($"api/v1/rules?scope={Q(c.Scope)}") },
        new("GET /api/v1/rules", Policy.AnyCaller, Effect.List) { Variant = "every scope", Seed = RuleAsync, Lists = ScopeAdministrator, Request = _ => Get("api/v1/rules") },
        new("POST /api/v1/rules", ScopeAdministrator, Effect.Write)
        {
            Change = Change.Created,
            Request = c => Post("api/v1/rules", new { id = $"rule-new-{c.Number}", scope = c.Scope, name = "New", eventTypes = new[] { "item.changed" }, recipients = new[] { "ops@example.org" } }),
            Probe = (h, c) => RuleRow(h, $"rule-new-{c.Number}"),
        },
        new("GET /api/v1/rules/{id}", AdministratorsThing, Effect.Read) { Seed = RuleAsync, Request = c => Get($"api/v1/rules/{c.Seeded.Id}") },
        new("PUT /api/v1/rules/{id}", AdministratorsThing, Effect.Write)
        {
            Seed = RuleAsync,
            Request = c => Put($"api/v1/rules/{c.Seeded.Id}", new { scope = c.Scope, name = "Renamed " + c.Marker, eventTypes = new[] { "item.changed" }, recipients = new[] { "ops@example.org" } }),
            Probe = (h, c) => RuleRow(h, c.Seeded.Id),
        },
        new("DELETE /api/v1/rules/{id}", AdministratorsThing, Effect.Write)
        {
            Change = Change.Removed, Seed = RuleAsync, Request = c => Delete($"api/v1/rules/{c.Seeded.Id}"), Probe = (h, c) => RuleRow(h, c.Seeded.Id),
        },
        new("POST /api/v1/rules/{id}/test", AdministratorsThing, Effect.Answer) { Seed = RuleAsync, Request = c => Post($"api/v1/rules/{c.Seeded.Id}/test") },
        new("POST /api/v1/rules/test", ScopeAdministrator, Effect.Answer) { Request = c => Post("api/v1/rules/test", RuleDraft(c.Scope)) },

        // Suppression lists: administrators of their scope.
        new("GET /api/v1/suppressions", ScopeAdministrator, Effect.List) { Seed = SuppressionAsync, Request = c => Get($"api/v1/suppressions?scope={Q(c.Scope)}") },
        new("GET /api/v1/suppressions/export", ScopeAdministrator, Effect.Read) { Seed = SuppressionAsync, Request = c => Get($"api/v1/suppressions/export?format=csv&scope={Q(c.Scope)}") },
        new("POST /api/v1/suppressions", ScopeAdministrator, Effect.Write)
        {
            Change = Change.Created,
            Request = c => Post("api/v1/suppressions", new { scope = c.Scope, address = c.Marker + "@example.org", reason = "administrator" }),
            Probe = (h, c) => SuppressionRow(h, c.Scope, c.Marker + "@example.org"),
        },
        new("DELETE /api/v1/suppressions/{id}", AdministratorsThing, Effect.Write)
        {
            Change = Change.Removed, Seed = SuppressionAsync,
            Request = c => Delete($"api/v1/suppressions/{c.Seeded.Id}"), Probe = (h, c) => SuppressionRow(h, c.Scope, c.Seeded.Marker + "@example.org"),
        },

        // A scope's bounce mailbox: administrators of the scope (and above).
        new("GET /api/v1/bounce-mailbox", ScopeAdministrator, Effect.Read) { Seed = BounceMailboxAsync, Request = c => Get($"api/v1/bounce-mailbox?scope={Q(c.Scope)}") },
        new("PUT /api/v1/bounce-mailbox", ScopeAdministrator, Effect.Write)
        {
            Variant = "change", Seed = BounceMailboxAsync,
            Request = c => Put($"api/v1/bounce-mailbox?scope={Q(c.Scope)}", new { domain = $"m{c.Marker}.example.org" }), Probe = (h, c) => BounceMailboxRow(h, c.Scope),
        },
        new("PUT /api/v1/bounce-mailbox", ScopeAdministrator, Effect.Write)
        {
            Variant = "create", Change = Change.Created, Seed = NoBounceMailboxAsync,
            Request = c => Put($"api/v1/bounce-mailbox?scope={Q(c.Scope)}", BounceMailboxBody(c.Marker)), Probe = (h, c) => BounceMailboxRow(h, c.Scope),
        },
        new("DELETE /api/v1/bounce-mailbox", ScopeAdministrator, Effect.Write)
        {
            Change = Change.Removed, Seed = BounceMailboxAsync,
            Request = c => Delete($"api/v1/bounce-mailbox?scope={Q(c.Scope)}"), Probe = (h, c) => BounceMailboxRow(h, c.Scope),
        },
        // Reading now records what the read found (here: that nothing listens) as the mailbox's last outcome.
        new("POST /api/v1/bounce-mailbox/read", ScopeAdministrator, Effect.Write)
        {
            Seed = BounceMailboxAsync, Request = c => Post($"api/v1/bounce-mailbox/read?scope={Q(c.Scope)}"), Probe = (h, c) => BounceMailboxReadRow(h, c.Scope),
        },

        // Dead letters: administrators of their scope; a bulk action names its scope in a filter.
        new("GET /api/v1/dead-letters", ScopeAdministrator, Effect.List) { Seed = DeadLetterAsync, Request = c => Get($"api/v1/dead-letters?scope={Q(c.Scope)}") },
        new("GET /api/v1/dead-letters/export", ScopeAdministrator, Effect.Read) { Seed = DeadLetterAsync, Request = c => Get($"api/v1/dead-letters/export?format=csv&scope={Q(c.Scope)}") },
        new("POST /api/v1/dead-letters/retry", ScopeAdministrator, Effect.Write)
        {
            Seed = DeadLetterAsync, Request = c => Post("api/v1/dead-letters/retry", new { filter = new { scope = c.Scope, domain = DeadLetterDomain(c.Seeded) } }),
            Probe = (h, c) => MessageRow(h, c.Seeded.Id),
        },
        new("POST /api/v1/dead-letters/suppress", ScopeAdministrator, Effect.Write)
        {
            Change = Change.Created, Seed = DeadLetterAsync,
            Request = c => Post("api/v1/dead-letters/suppress", new { filter = new { scope = c.Scope, domain = DeadLetterDomain(c.Seeded) } }),
            Probe = (h, c) => SuppressionRow(h, c.Scope, DeadLetterAddress(c.Seeded)),
        },

        // Webhooks: administrators of their scope.
        new("GET /api/v1/webhooks", ScopeAdministrator, Effect.List) { Seed = WebhookAsync, Request = c => Get($"api/v1/webhooks?scope={Q(c.Scope)}") },
        new("POST /api/v1/webhooks", ScopeAdministrator, Effect.Write)
        {
            Change = Change.Created,
            Request = c => Post("api/v1/webhooks", new { scope = c.Scope, url = $"https://hooks.example.org/{c.Marker}" }),
            Probe = (h, c) => WebhookRowByUrl(h, c.Scope, $"https://hooks.example.org/{c.Marker}"),
        },
        new("PATCH /api/v1/webhooks/{id}", AdministratorsThing, Effect.Write)
        {
            Seed = WebhookAsync, Request = c => Patch($"api/v1/webhooks/{c.Seeded.Id}", new { description = "Renamed " + c.Marker }), Probe = (h, c) => WebhookRow(h, c.Seeded.Id),
        },
        new("DELETE /api/v1/webhooks/{id}", AdministratorsThing, Effect.Write)
        {
            Change = Change.Removed, Seed = WebhookAsync, Request = c => Delete($"api/v1/webhooks/{c.Seeded.Id}"), Probe = (h, c) => WebhookRow(h, c.Seeded.Id),
        },
        new("GET /api/v1/webhooks/{id}/deliveries", AdministratorsThing, Effect.Read) { Seed = WebhookAsync, Request = c => Get($"api/v1/webhooks/{c.Seeded.Id}/deliveries") },
        new("POST /api/v1/webhooks/{id}/deliveries/{deliveryId}/retry", AdministratorsThing, Effect.Write)
        {
            Seed = FailedWebhookDeliveryAsync,
            Request = c => Post($"api/v1/webhooks/{c.Seeded.Id}/deliveries/msg_{c.Seeded.Marker}/retry"),
            Probe = (h, c) => WebhookDeliveryRow(h, "msg_" + c.Seeded.Marker),
        },
    ];

    /// <summary>A group subscription alice has opted out of.</summary>
    private static async Task<Seeded> OptedOutAsync(MatrixHost host, string scope)
    {
        var subscription = await SubscriptionAsync(host, scope);
        await SendAsync(host, HttpMethod.Put, $"api/v1/subscriptions/{subscription.Id}/opt-outs/alice", new { });
        return subscription;
    }
}
