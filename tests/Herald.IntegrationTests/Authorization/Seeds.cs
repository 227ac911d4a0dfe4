using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.IntegrationTests.Authorization;

/// <summary>
/// What cells act on, made by an administrator of <c>/</c> through the API (so every seed goes
/// through the same doors), and read back from the database as text for the write checks.
/// </summary>
internal static class Seeds
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static string Q(string scope) => Uri.EscapeDataString(scope);

    /// <summary>A message with one recipient, deferred until tomorrow: retry and cancel both have
    /// something to change, and no node of the matrix sends it.</summary>
    public static async Task<Seeded> MessageAsync(MatrixHost host, string scope)
    {
        var marker = host.Marker();
        var id = await PostAsync(host, "api/v1/messages", new { scope, to = new[] { "rcpt@example.org" }, subject = "Subject " + marker, text = "Body" }, "id");
        await host.ExecuteAsync("UPDATE recipients SET state = 'deferred' WHERE message_id = @id", new { id });
        await host.ExecuteAsync("UPDATE messages SET next_attempt_at = next_attempt_at + 86400000 WHERE id = @id", new { id });
        return new Seeded(id, scope, marker);
    }

    public static Task<string?> MessageRow(MatrixHost host, string id) =>
        host.QueryAsync("SELECT m.state, m.next_attempt_at, m.expires_at, r.state AS recipient, r.attempts FROM messages m JOIN recipients r ON r.message_id = m.id WHERE m.id = @id", new { id });

    /// <summary>A dead letter: a message to <see cref="DeadLetterAddress"/> whose recipient expired
    /// (as after an outage), its subject naming the marker. Its domain is the marker's own, so that a
    /// bulk action filtered by it reaches this cell's dead letter and no other cell's.</summary>
    public static async Task<Seeded> DeadLetterAsync(MatrixHost host, string scope)
    {
        var marker = host.Marker();
        var id = await PostAsync(host, "api/v1/messages", new { scope, to = new[] { $"dead@{marker}.example.org" }, subject = "Subject " + marker, text = "Body" }, "id");
        await host.ExecuteAsync("UPDATE recipients SET state = 'expired' WHERE message_id = @id", new { id });
        await host.ExecuteAsync("UPDATE messages SET state = 'done' WHERE id = @id", new { id });
        return new Seeded(id, scope, marker);
    }

    public static string DeadLetterDomain(Seeded seeded) => $"{seeded.Marker}.example.org";

    public static string DeadLetterAddress(Seeded seeded) => "dead@" + DeadLetterDomain(seeded);

    /// <summary>The messages a cell submitted, found by the idempotency key it gave them.</summary>
    public static Task<string?> MessagesKeyed(MatrixHost host, string scope, string key) =>
        host.QueryAsync("SELECT id, scope_path, source FROM messages WHERE scope_path = @scope AND idempotency_key = @key", new { scope, key });

    /// <summary>A "Manage your alerts" link of alice's, as a notification would carry it (its token is the id).</summary>
    public static async Task<Seeded> ManageLinkAsync(MatrixHost host, string scope)
    {
        var alice = await host.Services.GetRequiredService<Herald.Notifications.IDirectoryStore>().FindUserAsync("alice", Ct);
        var link = await host.Services.GetRequiredService<Herald.Notifications.SelfService.ManageLinks>().CreateAsync(alice!, Ct);
        return new Seeded(link.AbsolutePath.Split('/')[^1], scope, "Continue as User alice");
    }

    /// <summary>An emailed sign-in link of alice's, stored as the mailer stores one (its token is the id).</summary>
    public static async Task<Seeded> SignInLinkAsync(MatrixHost host, string scope, MatrixCaller caller)
    {
        var links = host.Services.GetRequiredService<Herald.Notifications.SelfService.ISignInLinkStore>();
        var now = DateTimeOffset.UtcNow;
        var id = "sil-matrix-" + host.Next().ToString(CultureInfo.InvariantCulture);
        Assert.True(await links.AddRequestAsync(new(id, id + "@example.org", "192.0.2.7", now), now, 1000, 1000, Ct));
        var token = Herald.Notifications.SelfService.SignInLinks.NewToken();
        await links.CompleteAsync(id, Herald.Notifications.SelfService.SignInLinkOutcome.Sent, "alice", Herald.Notifications.SelfService.SignInLinks.HashOf(token), now.AddMinutes(15), Ct);
        return new Seeded(token, scope, "Continue as User alice");
    }

    /// <summary>The time zone and language of the caller's own directory user (alice's for the signed-out visitor).</summary>
    public static Task<string?> PreferencesRow(MatrixHost host, string userId) =>
        host.QueryAsync("SELECT time_zone, language FROM directory_users WHERE id = @userId", new { userId });

    /// <summary>A group's subscription (so that members may opt out), named by its marker.</summary>
    public static async Task<Seeded> SubscriptionAsync(MatrixHost host, string scope) => await SubscriptionAsync(host, scope, "group:everyone");

    public static async Task<Seeded> SubscriptionAsync(MatrixHost host, string scope, string owner)
    {
        var marker = host.Marker();
        var id = "sub-" + host.Next().ToString(CultureInfo.InvariantCulture);
        await PostAsync(host, "api/v1/subscriptions", new { id, scope, owner, name = "Alert " + marker, eventTypes = new[] { "item.changed" } }, "id");
        return new Seeded(id, scope, marker);
    }

    public static Task<string?> SubscriptionRow(MatrixHost host, string id) =>
        host.QueryAsync("SELECT scope_path, owner_kind, owner_id, name, event_types, frequency, enabled FROM subscriptions WHERE id = @id", new { id });

    public static Task<string?> OptOuts(MatrixHost host, string id) =>
        host.QueryAsync("SELECT recipient FROM notification_opt_outs WHERE source_id = @id", new { id });

    public static async Task<Seeded> RuleAsync(MatrixHost host, string scope)
    {
        var marker = host.Marker();
        var id = "rule-" + host.Next().ToString(CultureInfo.InvariantCulture);
        await PostAsync(host, "api/v1/rules", new { id, scope, name = "Rule " + marker, eventTypes = new[] { "item.changed" }, recipients = new[] { "ops@example.org" } }, "id");
        return new Seeded(id, scope, marker);
    }

    public static Task<string?> RuleRow(MatrixHost host, string id) =>
        host.QueryAsync("SELECT scope_path, name, event_types, addresses, recipients, enabled FROM notification_rules WHERE id = @id", new { id });

    /// <summary>A rule as the create route takes it, for the tests before saving (nothing is stored,
    /// and the matrix's connection is reserved for other nodes, so nothing is sent either).</summary>
    public static object RuleDraft(string scope) => new { scope, name = "Draft", eventTypes = new[] { "item.changed" }, recipients = new[] { "ops@example.org" } };

    /// <summary>A subscription as the create route takes it, for the tests before saving.</summary>
    public static object SubscriptionDraft(string scope) => new { scope, owner = "group:everyone", name = "Draft", eventTypes = new[] { "item.changed" } };

    /// <summary>The same drafts as the console's editors post them.</summary>
    public static (string, string)[] RuleDraftForm(string scope) => [("name", "Draft"), ("scope", scope), ("addresses", "ops@example.org"), ("eventTypes", "item.changed"), ("enabled", "true")];

    public static (string, string)[] SubscriptionDraftForm(string scope) =>
        [("name", "Draft"), ("scope", scope), ("owner", "group:everyone"), ("eventTypes", "item.changed"), ("frequency", "immediate"), ("enabled", "true")];

    /// <summary>A connection owned by the scope; its host name is its marker.</summary>
    public static async Task<Seeded> ConnectionAsync(MatrixHost host, string scope)
    {
        var marker = host.Marker();
        var name = "conn-" + host.Next().ToString(CultureInfo.InvariantCulture);
        await SendAsync(host, HttpMethod.Put, $"api/v1/connections/{name}?scope={Q(scope)}", ConnectionBody(host, marker + ".example"));
        return new Seeded(name, scope, marker);
    }

    public static object ConnectionBody(MatrixHost host, string server) =>
        new { server, port = host.ClosedPort, security = "none", auth = "anonymous", nodeTags = new[] { MatrixHost.ElsewhereTag } };

    public static Task<string?> ConnectionRow(MatrixHost host, string scope, string name) =>
        host.QueryAsync("SELECT host, port, rate_limit_per_minute, connection_limit, node_tags FROM smtp_connections WHERE owner_scope = @scope AND short_name = @name", new { scope, name });

    public static Task<string?> SettingsRow(MatrixHost host, string scope) =>
        host.QueryAsync("SELECT enabled, connection_name, from_address, from_name, reply_to, charset, impersonation FROM outgoing_settings WHERE scope_path = @scope", new { scope });

    /// <summary>The scope's own From name, the marker its settings show.</summary>
    public static async Task<Seeded> SettingsAsync(MatrixHost host, string scope)
    {
        var marker = host.Marker();
        await SendAsync(host, HttpMethod.Put, $"api/v1/settings/outgoing?scope={Q(scope)}", new { fromName = "Desk " + marker });
        return new Seeded(scope, scope, marker);
    }

    public static async Task<Seeded> TemplateAsync(MatrixHost host, string scope)
    {
        var marker = host.Marker();
        await SendAsync(host, HttpMethod.Put, $"api/v1/templates/item.changed?scope={Q(scope)}", new { subject = "Changed " + marker + ": {{ event.title }}", text = "{{ event.title }}" });
        return new Seeded("item.changed", scope, marker);
    }

    public static Task<string?> TemplateRow(MatrixHost host, string scope) =>
        host.QueryAsync("SELECT subject, text_body FROM notification_templates WHERE scope_path = @scope AND event_type = 'item.changed'", new { scope });

    /// <summary>bob's View on the scope (the entry the access cells change and revoke).</summary>
    public static async Task<Seeded> AccessAsync(MatrixHost host, string scope)
    {
        await SendAsync(host, HttpMethod.Put, "api/v1/access", new { scope, principal = "user:bob", level = "view" });
        return new Seeded("user:bob", scope, "user:bob");
    }

    public static Task<string?> AccessRow(MatrixHost host, string scope) =>
        host.QueryAsync("SELECT level FROM access_entries WHERE scope_path = @scope AND principal_kind = 'user' AND principal_id = 'bob'", new { scope });

    /// <summary>A listener of the scope on a TEST-NET address (never bound on this machine); its
    /// port is unique, so the endpoint is its marker.</summary>
    public static async Task<Seeded> ListenerAsync(MatrixHost host, string scope)
    {
        var listen = ListenAddress(host);
        await SendAsync(host, HttpMethod.Put, $"api/v1/relay/listeners/{Uri.EscapeDataString(listen)}", new { scope, access = "only-list", entries = new[] { "127.0.0.0/8" }, auth = "none" });
        return new Seeded(listen, scope, listen);
    }

    public static string ListenAddress(MatrixHost host) => $"192.0.2.1:{10000 + host.Next()}";

    public static Task<string?> ListenerRow(MatrixHost host, string listen) =>
        host.QueryAsync("SELECT scope_path, access, entries, auth, sender_domains, recipient_domains FROM relay_listeners WHERE listen = @listen", new { listen });

    /// <summary>A relay account of the scope, stored with a placeholder hash: hashing a password
    /// costs a PBKDF2 run, and the cells that set one do it through the doors anyway.</summary>
    public static async Task<Seeded> AccountAsync(MatrixHost host, string scope)
    {
        var user = "relay-" + host.Next().ToString(CultureInfo.InvariantCulture);
        await host.ExecuteAsync("INSERT INTO relay_accounts (user_name, scope_path, password_hash, created_at) VALUES (@user, @scope, 'placeholder', 0)", new { user, scope });
        return new Seeded(user, scope, user);
    }

    public static Task<string?> AccountRow(MatrixHost host, string user) =>
        host.QueryAsync("SELECT scope_path, password_hash FROM relay_accounts WHERE user_name = @user", new { user });

    /// <summary>An event whose fan-out failed and is quarantined (as after its last try), for retries.</summary>
    public static async Task<Seeded> FailedEventAsync(MatrixHost host, string scope)
    {
        var marker = host.Marker();
        var id = "failed-" + host.Next().ToString(CultureInfo.InvariantCulture);
        await SendAsync(host, HttpMethod.Post, "api/v1/events", new { id, type = "pipeline.failed", scope, resourcePath = "/builds/1", title = "Build " + marker });
        await host.ExecuteAsync(
            "UPDATE notification_events SET state = 'failed', failures = 5, last_error = 'quarantined by the matrix', lease_owner = NULL, lease_until = NULL WHERE id = @id AND scope_path = @scope",
            new { id, scope });
        return new Seeded(id, scope, marker);
    }

    /// <summary>An event with an explanation: the event's title carries the marker, which its
    /// explanation shows. Recorded now, so that the hourly purge keeps it.</summary>
    public static async Task<Seeded> ExplainedEventAsync(MatrixHost host, string scope)
    {
        var marker = host.Marker();
        var id = "explained-" + host.Next().ToString(CultureInfo.InvariantCulture);
        await SendAsync(host, HttpMethod.Post, "api/v1/events", new { id, type = "pipeline.failed", scope, resourcePath = "/builds/1", title = "Build " + marker });
        // The node's own fan-out may record it first (or after, replacing this one): either way it is there.
        await host.ExecuteAsync(
            "INSERT INTO event_explanations (event_scope, event_id, recorded_at, sources, disabled) VALUES (@scope, @id, @at, '[]', NULL) ON CONFLICT (event_scope, event_id) DO NOTHING",
            new { id, scope, at = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() });
        return new Seeded(id, scope, marker);
    }

    /// <summary>A subscription whose digest for one recipient and window failed and is quarantined.</summary>
    public static async Task<Seeded> FailedDigestAsync(MatrixHost host, string scope)
    {
        var subscription = await SubscriptionAsync(host, scope);
        await host.ExecuteAsync(
            "INSERT INTO digest_runs (subscription_id, recipient, window_end, node, created_at, state, failures, last_error, window_start) VALUES (@id, 'ann@example.org', 86400000, 'matrix', 0, 'failed', 5, 'quarantined by the matrix', 0)",
            new { id = subscription.Id });
        return subscription;
    }

    public static Task<string?> FailedDigestRow(MatrixHost host, string subscription) =>
        host.QueryAsync("SELECT state, failures, next_attempt_at FROM digest_runs WHERE subscription_id = @subscription", new { subscription });

    public static Task<string?> FailedEventRow(MatrixHost host, string id, string scope) =>
        host.QueryAsync("SELECT state, failures, last_error FROM notification_events WHERE id = @id AND scope_path = @scope", new { id, scope });

    public static Task<string?> EventRow(MatrixHost host, string id, string scope) =>
        host.QueryAsync("SELECT id, scope_path, type FROM notification_events WHERE id = @id AND scope_path = @scope", new { id, scope });

    public static async Task<Seeded> UserAsync(MatrixHost host, string scope)
    {
        var marker = host.Marker();
        var id = "user-" + host.Next().ToString(CultureInfo.InvariantCulture);
        await SendAsync(host, HttpMethod.Put, $"api/v1/users/{id}", new { name = "Person " + marker, email = id + "@example.org" });
        return new Seeded(id, scope, marker);
    }

    public static Task<string?> UserRow(MatrixHost host, string id) =>
        host.QueryAsync("SELECT name, email FROM directory_users WHERE id = @id", new { id });

    /// <summary>A directory source whose user filter carries the marker (no password: none is needed to store one).</summary>
    public static async Task<Seeded> DirectorySourceAsync(MatrixHost host, string scope)
    {
        var marker = host.Marker();
        var name = "source-" + host.Next().ToString(CultureInfo.InvariantCulture);
        await SendAsync(host, HttpMethod.Put, $"api/v1/directory/sources/{name}", new
        {
            url = "ldaps://ldap.example.org", bindDn = "cn=herald,dc=example,dc=org", baseDns = new[] { "dc=example,dc=org" }, userFilter = $"(description={marker})",
        });
        return new Seeded(name, scope, marker);
    }

    public static Task<string?> DirectorySourceRow(MatrixHost host, string name) =>
        host.QueryAsync("SELECT settings FROM directory_sources WHERE name = @name", new { name });

    /// <summary>The stored public URL (one for the farm).</summary>
    public static Task<string?> PublicUrlRow(MatrixHost host) =>
        host.QueryAsync("SELECT value FROM service_settings WHERE name = 'public_url'", new { });

    public static async Task<Seeded> GroupAsync(MatrixHost host, string scope)
    {
        var marker = host.Marker();
        var id = "group-" + host.Next().ToString(CultureInfo.InvariantCulture);
        // A member of its own, whose id and name carry the marker too: the member lists show it.
        await SendAsync(host, HttpMethod.Put, $"api/v1/users/u{marker}", new { name = "Member " + marker, email = $"u{marker}@example.org" });
        await SendAsync(host, HttpMethod.Put, $"api/v1/groups/{id}", new { name = "Team " + marker, scope, members = new[] { $"user:u{marker}" } });
        return new Seeded(id, scope, marker);
    }

    public static Task<string?> GroupRow(MatrixHost host, string id) =>
        host.QueryAsync("SELECT g.name, g.scope_path, g.alias, g.delivery, (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id) AS members FROM directory_groups g WHERE g.id = @id", new { id });

    /// <summary>A token of the unsubscribe link for alice's own subscription in the scope.</summary>
    public static async Task<Seeded> UnsubscribeLinkAsync(MatrixHost host, string scope)
    {
        var subscription = await SubscriptionAsync(host, scope, "user:alice");
        var links = host.Services.GetRequiredService<Herald.Notifications.IUnsubscribeLinks>();
        var link = await links.CreateAsync(new Herald.Notifications.NotificationOrigin(Herald.Notifications.NotificationSourceKind.Subscription, subscription.Id, "alice"), Ct);
        return new Seeded(link.AbsolutePath.Split('/')[^1], scope, subscription.Id);
    }

    /// <summary>An entry of the scope's suppression list, for its marker's address.</summary>
    public static async Task<Seeded> SuppressionAsync(MatrixHost host, string scope)
    {
        var marker = host.Marker();
        var id = await PostAsync(host, "api/v1/suppressions", new { scope, address = marker + "@example.org", reason = "administrator", source = "matrix " + marker }, "id");
        return new Seeded(id, scope, marker);
    }

    public static Task<string?> SuppressionRow(MatrixHost host, string scope, string address) =>
        host.QueryAsync("SELECT reason, source FROM suppressions WHERE scope_path = @scope AND address = @address", new { scope, address });

    /// <summary>A fresh (never read) bounce mailbox of the scope, its marker in its bounce domain;
    /// nothing listens on its port (the discard port of loopback), so a read fails at once.</summary>
    public static async Task<Seeded> BounceMailboxAsync(MatrixHost host, string scope)
    {
        var marker = host.Marker();
        await host.ExecuteAsync("DELETE FROM bounce_mailboxes WHERE scope_path = @scope", new { scope });
        await SendAsync(host, HttpMethod.Put, $"api/v1/bounce-mailbox?scope={Q(scope)}", BounceMailboxBody(marker));
        return new Seeded(scope, scope, marker);
    }

    /// <summary>The scope without a bounce mailbox of its own (other cases' seeds leave one), for a create.</summary>
    public static async Task<Seeded> NoBounceMailboxAsync(MatrixHost host, string scope)
    {
        await host.ExecuteAsync("DELETE FROM bounce_mailboxes WHERE scope_path = @scope", new { scope });
        return new Seeded(scope, scope, host.Marker());
    }

    public static object BounceMailboxBody(string marker) => new
    {
        protocol = "imap", host = "127.0.0.1", port = 9, security = "none", domain = $"m{marker}.example.org", userName = "bounces", password = "matrix-secret",
    };

    public static Task<string?> BounceMailboxRow(MatrixHost host, string scope) =>
        host.QueryAsync("SELECT settings FROM bounce_mailboxes WHERE scope_path = @scope", new { scope });

    public static Task<string?> BounceMailboxReadRow(MatrixHost host, string scope) =>
        host.QueryAsync("SELECT last_outcome FROM bounce_mailboxes WHERE scope_path = @scope", new { scope });

    /// <summary>A webhook endpoint of the scope, its marker in its URL.</summary>
    public static async Task<Seeded> WebhookAsync(MatrixHost host, string scope)
    {
        var marker = host.Marker();
        using var response = await host.Root.PostAsJsonAsync("api/v1/webhooks", new { scope, url = $"https://hooks.example.org/{marker}", description = "matrix " + marker }, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.IsSuccessStatusCode, $"Seeding a webhook failed: {(int)response.StatusCode} {text}");
        return new Seeded(JsonDocument.Parse(text).RootElement.GetProperty("endpoint").GetProperty("id").GetString()!, scope, marker);
    }

    /// <summary>A webhook endpoint with one quarantined delivery, <c>msg_</c> and the marker.</summary>
    public static async Task<Seeded> FailedWebhookDeliveryAsync(MatrixHost host, string scope)
    {
        var webhook = await WebhookAsync(host, scope);
        await host.ExecuteAsync(
            """
            INSERT INTO webhook_deliveries (id, endpoint_id, order_key, type, subject, payload, state, attempts, failures, created_at, next_attempt_at, updated_at)
            VALUES (@id, @endpoint, @id, 'message.recipient.sent', @id, '{}', 'failed', 5, 5, 0, 4102444800000, 0)
            """,
            new { id = "msg_" + webhook.Marker, endpoint = webhook.Id });
        return webhook;
    }

    public static Task<string?> WebhookRow(MatrixHost host, string id) =>
        host.QueryAsync("SELECT scope_path, url, description, enabled FROM webhook_endpoints WHERE id = @id", new { id });

    public static Task<string?> WebhookRowByUrl(MatrixHost host, string scope, string url) =>
        host.QueryAsync("SELECT scope_path, description FROM webhook_endpoints WHERE scope_path = @scope AND url = @url", new { scope, url });

    public static Task<string?> WebhookDeliveryRow(MatrixHost host, string id) =>
        host.QueryAsync("SELECT state, failures FROM webhook_deliveries WHERE id = @id", new { id });

    /// <summary>The "unsubscribe from everything" form of a rule's notification to the marker's
    /// address, as a browser gets it: its anti-forgery cookie and field, by the link's token.</summary>
    public static readonly System.Collections.Concurrent.ConcurrentDictionary<string, ((string, string)[] Form, string Cookie)> EverythingForms = new(StringComparer.Ordinal);

    public static async Task<Seeded> EverythingFormAsync(MatrixHost host, string scope)
    {
        var marker = host.Marker();
        var rule = "rule-" + host.Next().ToString(CultureInfo.InvariantCulture);
        await PostAsync(host, "api/v1/rules", new { id = rule, scope, name = "Rule " + marker, eventTypes = new[] { "item.changed" }, recipients = new[] { marker + "@example.org" } }, "id");
        var links = host.Services.GetRequiredService<Herald.Notifications.IUnsubscribeLinks>();
        var link = await links.CreateAsync(new Herald.Notifications.NotificationOrigin(Herald.Notifications.NotificationSourceKind.Rule, rule, marker + "@example.org"), Ct);
        var token = link.AbsolutePath.Split('/')[^1];
        using var browser = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = host.Root.BaseAddress };
        using var page = await browser.GetAsync($"unsubscribe/{token}", Ct);
        var html = await page.Content.ReadAsStringAsync(Ct);
        var field = System.Text.RegularExpressions.Regex.Match(html, "<input type=\"hidden\" name=\"(?<name>[^\"]+)\" value=\"(?<value>[^\"]+)\">");
        Assert.True(field.Success, html);
        var cookie = string.Join("; ", page.Headers.GetValues("Set-Cookie").Select(c => c.Split(';')[0]));
        EverythingForms[token] = ([(field.Groups["name"].Value, System.Net.WebUtility.HtmlDecode(field.Groups["value"].Value))], cookie);
        return new Seeded(token, scope, marker);
    }

    public static async Task<string> PostAsync(MatrixHost host, string path, object body, string idProperty)
    {
        using var response = await host.Root.PostAsJsonAsync(path, body, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.IsSuccessStatusCode, $"Seeding POST {path} failed: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty(idProperty).GetString()!;
    }

    public static async Task SendAsync(MatrixHost host, HttpMethod method, string path, object body)
    {
        using var request = new HttpRequestMessage(method, path) { Content = JsonContent.Create(body, body.GetType()) };
        using var response = await host.Root.SendAsync(request, Ct);
        Assert.True(response.IsSuccessStatusCode, $"Seeding {method} {path} failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Ct)}");
    }
}
