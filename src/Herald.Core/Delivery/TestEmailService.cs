using Herald.Access;
using Herald.Credentials;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Delivery;

/// <summary>Sends a test message now and reports the SMTP conversation's outcome — the "Test
/// email" of every seed product — through a scope's settings, or through a connection as it is
/// being edited, before anything is saved. Administrators only: a test goes out for real.</summary>
public sealed class TestEmailService(
    OutgoingSettingsCache cache, OutgoingSettingsService settings, CredentialVault vault, IDeliveryClient client, Outbox.NodeIdentity node, TimeProvider time)
{
    /// <summary>Subjects longer than this are cut; a test needs no more.</summary>
    public const int MaxSubjectLength = 200;

    /// <summary>Bodies longer than this are cut.</summary>
    public const int MaxBodyLength = 10_000;

    /// <summary>A test through the scope's effective settings, as its mail would go.</summary>
    public async Task<Result<TestEmailOutcome>> SendAsync(
        Caller caller, ScopePath scope, IReadOnlyList<EmailAddress> to, string subject, string body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(to);
        if (caller.RefuseUnlessAdministers(scope, $"send a test email from scope {scope}") is { } refusal)
        {
            return refusal;
        }

        if (await settings.GetEffectiveAsync(scope, cancellationToken).ConfigureAwait(false) is null)
        {
            return Refusal.NotFound(OutgoingSettingsService.ScopeMissing(scope).Message);
        }

        if (to.Count is 0 or > 10)
        {
            return Refusal.Invalid("to", "A test email goes to 1 to 10 addresses.");
        }

        // Read afresh: a test right after a change on another node must see it.
        cache.Invalidate();
        var (route, problem) = await cache.GetRouteAsync(scope, cancellationToken).ConfigureAwait(false);
        if (route is null)
        {
            return TestEmailOutcome.Refused($"{problem} Nothing was sent.");
        }

        if (NotThisNode(route.Connection) is { } elsewhere)
        {
            return TestEmailOutcome.Refused(elsewhere) with { Settings = route.Settings, Connection = route.Connection };
        }

        var (opened, openProblem) = await OpenedConnection.OpenAsync(route.Connection, vault, cancellationToken).ConfigureAwait(false);
        if (opened is null)
        {
            return TestEmailOutcome.Refused(openProblem!) with { Settings = route.Settings, Connection = route.Connection };
        }

        using (opened)
        {
            var message = Compose(route.Settings, to, subject, body);
            var request = new DeliveryRequest(opened, message, route.Settings.FromAddress.Value!.Value, to.Select(a => a.Value).ToArray());
            var result = await client.SendAsync(request, cancellationToken).ConfigureAwait(false);
            return new TestEmailOutcome(null, route.Settings, route.Connection, result);
        }
    }

    /// <summary>
    /// A test through a connection as it is being edited (the console's Test button): its secrets
    /// as typed, or as stored when left blank; nothing is saved. The caller must be allowed to
    /// save the same change (<see cref="OutgoingSettingsService.PrepareConnectionAsync"/>).
    /// </summary>
    public async Task<Result<TestEmailOutcome>> SendThroughAsync(
        Caller caller, ConnectionSave save, EmailAddress from, IReadOnlyList<EmailAddress> to, string subject, string body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        var prepared = await settings.PrepareConnectionAsync(caller, save, cancellationToken).ConfigureAwait(false);
        if (prepared.Refusal is { } refusal)
        {
            return refusal;
        }

        var connection = prepared.Value.Connection;
        if (NotThisNode(connection) is { } elsewhere)
        {
            return TestEmailOutcome.Refused(elsewhere) with { Connection = connection };
        }

        var (opened, problem) = await OpenedConnection.OpenAsync(connection, vault, cancellationToken).ConfigureAwait(false);
        if (opened is null)
        {
            return TestEmailOutcome.Refused(problem!) with { Connection = connection };
        }

        using (opened)
        {
            var effective = EffectiveOutgoingSettings.Resolve(save.Owner, [new ScopeOutgoingSettings(save.Owner) { FromAddress = from, ConnectionId = connection.Id }]);
            var message = Compose(effective, to, subject, body);
            var result = await client.SendAsync(new DeliveryRequest(opened, message, from.Value, to.Select(a => a.Value).ToArray()), cancellationToken).ConfigureAwait(false);
            return new TestEmailOutcome(null, effective, connection, result);
        }
    }

    /// <summary>Why this node does not test a connection reserved for nodes with other tags: it
    /// never delivers through it, so a test from here would prove nothing about the mail.</summary>
    private string? NotThisNode(SmtpConnection connection) => node.MayUse(connection)
        ? null
        : $"SMTP connection {connection.Qualified} is used only by nodes tagged {string.Join(", ", connection.NodeTags)}, and this node ({node.Name}) has {(node.Tags.Count == 0 ? "no tags" : "tags " + string.Join(", ", node.Tags))}: run the test on one of those nodes (its console, or 'herald test-email' there with HERALD_NODE_TAGS set as for serve). Nothing was sent.";

    /// <summary>The test message: text only, marked as sent by a program (RFC 3834), so that an
    /// out-of-office reply never answers it.</summary>
    private MimeKit.MimeMessage Compose(EffectiveOutgoingSettings settings, IReadOnlyList<EmailAddress> to, string subject, string body)
    {
        var now = time.GetUtcNow();
        var content = new MessageContent(to, Limit(subject, MaxSubjectLength), Limit(body, MaxBodyLength), null)
        {
            Headers = [new("Auto-Submitted", "auto-generated")],
        };
        return MessageComposer.Compose(settings, content, now, Guid.CreateVersion7(now).ToString("N"));
    }

    private static string Limit(string? text, int length) => text is null ? "" : text.Length <= length ? text : text[..length];
}

/// <summary>Either a reason nothing was attempted, or the delivery result.</summary>
public sealed record TestEmailOutcome(string? Problem, EffectiveOutgoingSettings? Settings, SmtpConnection? Connection, DeliveryResult? Result)
{
    public static TestEmailOutcome Refused(string problem) => new(problem, null, null, null);
}
