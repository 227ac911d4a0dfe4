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

        var (route, problem) = await RouteNowAsync(scope, cancellationToken).ConfigureAwait(false);
        if (route is null)
        {
            return TestEmailOutcome.Refused(problem!);
        }

        var message = Compose(route.Settings, to, subject, body);
        var (sendProblem, results) = await SendEachAsync(route.Connection, route.Settings.FromAddress.Value!.Value, [(message, to.Select(a => a.Value).ToArray())], cancellationToken)
            .ConfigureAwait(false);
        return sendProblem is not null
            ? TestEmailOutcome.Refused(sendProblem) with { Settings = route.Settings, Connection = route.Connection }
            : new TestEmailOutcome(null, route.Settings, route.Connection, results[0]);
    }

    /// <summary>How the scope's mail goes now, read afresh (a test right after a change on another
    /// node must see it); or why a test from here sends nothing: the scope cannot send, or its
    /// connection is reserved for other nodes.</summary>
    public async Task<(SendingRoute? Route, string? Problem)> RouteNowAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        cache.Invalidate();
        var (route, problem) = await cache.GetRouteAsync(scope, cancellationToken).ConfigureAwait(false);
        if (route is null)
        {
            return (null, $"{problem} Nothing was sent.");
        }

        return NotThisNode(route.Connection) is { } elsewhere ? (null, elsewhere) : (route, null);
    }

    /// <summary>Sends each message now, one SMTP transaction each, through the connection with its
    /// secrets opened once: each message's result, or why none was sent (a secret that cannot be
    /// opened). Every test (a scope's or a connection's test email, a rule's or a subscription's
    /// sample) goes out here, as delivery would send it but without the outbox.</summary>
    public async Task<(string? Problem, IReadOnlyList<DeliveryResult> Results)> SendEachAsync(
        SmtpConnection connection, string envelopeSender, IReadOnlyList<(MimeKit.MimeMessage Message, IReadOnlyList<string> To)> messages, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var (opened, problem) = await OpenedConnection.OpenAsync(connection, vault, cancellationToken).ConfigureAwait(false);
        if (opened is null)
        {
            return (problem, []);
        }

        using (opened)
        {
            var results = new List<DeliveryResult>(messages.Count);
            foreach (var (message, to) in messages)
            {
                results.Add(await client.SendAsync(new DeliveryRequest(opened, message, envelopeSender, to), cancellationToken).ConfigureAwait(false));
            }

            return (null, results);
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

        var effective = EffectiveOutgoingSettings.Resolve(save.Owner, [new ScopeOutgoingSettings(save.Owner) { FromAddress = from, ConnectionId = connection.Id }]);
        var message = Compose(effective, to, subject, body);
        var (problem, results) = await SendEachAsync(connection, from.Value, [(message, to.Select(a => a.Value).ToArray())], cancellationToken).ConfigureAwait(false);
        return problem is not null
            ? TestEmailOutcome.Refused(problem) with { Connection = connection }
            : new TestEmailOutcome(null, effective, connection, results[0]);
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
