using Herald.Credentials;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Delivery;

/// <summary>Sends a test message now, through a scope's effective settings, and reports the
/// SMTP conversation's outcome — the "Test email" of every seed product.</summary>
public sealed class TestEmailService(ISettingsStore store, CredentialVault vault, IDeliveryClient client, TimeProvider time)
{
    public async Task<TestEmailOutcome> SendAsync(
        ScopePath scope, IReadOnlyList<EmailAddress> to, string subject, string body, CancellationToken cancellationToken)
    {
        if (!await store.ScopeExistsAsync(scope, cancellationToken).ConfigureAwait(false))
        {
            return TestEmailOutcome.Refused(OutgoingSettingsService.ScopeMissing(scope).Message);
        }

        var chain = await store.GetOutgoingChainAsync(scope, cancellationToken).ConfigureAwait(false);
        var settings = EffectiveOutgoingSettings.Resolve(scope, chain);
        if (!settings.Enabled.Value)
        {
            return TestEmailOutcome.Refused($"Outgoing email is disabled for scope {scope} (set at {settings.Enabled.DefinedAt}); nothing was sent.");
        }

        if (settings.ConnectionName.Value is not { } connectionName
            || await store.GetConnectionAsync(connectionName, cancellationToken).ConfigureAwait(false) is not { } connection)
        {
            return TestEmailOutcome.Refused($"No SMTP server is configured for scope {scope} or its parents: set one with 'herald smtp set --server …'.");
        }

        if (settings.FromAddress.Value is not { } from)
        {
            return TestEmailOutcome.Refused($"No From address is configured for scope {scope} or its parents: set one with 'herald smtp set --from …'.");
        }

        var (opened, problem) = await OpenedConnection.OpenAsync(connection, vault, cancellationToken).ConfigureAwait(false);
        if (opened is null)
        {
            return TestEmailOutcome.Refused(problem!) with { Settings = settings, Connection = connection };
        }

        using (opened)
        {
            var message = MessageComposer.Compose(settings, to, subject, body, time.GetUtcNow());
            var request = new DeliveryRequest(opened, message, from.Value, to.Select(a => a.Value).ToArray());
            var result = await client.SendAsync(request, cancellationToken).ConfigureAwait(false);
            return new TestEmailOutcome(null, settings, connection, result);
        }
    }

    /// <summary>The console's connection test: sends through a connection as it is being edited
    /// (its secrets as typed, or as stored when left blank), before anything is saved.</summary>
    public async Task<DeliveryResult> SendThroughAsync(
        OpenedConnection connection, EmailAddress from, IReadOnlyList<EmailAddress> to, string subject, string body, CancellationToken cancellationToken)
    {
        var settings = EffectiveOutgoingSettings.Resolve(ScopePath.Root, [new ScopeOutgoingSettings(ScopePath.Root) { FromAddress = from, ConnectionName = connection.Settings.Name }]);
        var message = MessageComposer.Compose(settings, to, subject, body, time.GetUtcNow());
        return await client.SendAsync(new DeliveryRequest(connection, message, from.Value, to.Select(a => a.Value).ToArray()), cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Either a reason nothing was attempted, or the delivery result.</summary>
public sealed record TestEmailOutcome(string? Problem, EffectiveOutgoingSettings? Settings, SmtpConnection? Connection, DeliveryResult? Result)
{
    public static TestEmailOutcome Refused(string problem) => new(problem, null, null, null);
}
