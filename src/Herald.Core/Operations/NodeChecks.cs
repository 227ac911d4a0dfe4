using System.Globalization;
using Herald.Credentials;
using Microsoft.Extensions.Hosting;

namespace Herald.Operations;

/// <summary>
/// The checks that say whether this node can do its work: its database answers and is migrated,
/// its credential key is the database's, and its background workers run. <c>GET /readyz</c> is
/// these checks; <c>herald doctor</c> runs them too, with more. Each check has a time limit, and
/// no detail carries a secret or a connection string.
/// </summary>
public sealed class NodeChecks(
    IDatabaseProbe database,
    ICredentialKeyStore keys,
    CredentialVault vault,
    IEnumerable<IHostedService> hostedServices,
    TimeProvider time)
{
    private (string Attempt, string Problem)? _refused;

    /// <summary>How long a check of the database may take before it counts as not answering.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Readiness: database, migrations, credential key and every worker of this process.</summary>
    public async Task<NodeReport> ReadinessAsync(CancellationToken cancellationToken)
    {
        var checks = new List<NodeCheck>();
        var reachable = await SchemaAsync(checks, DefaultTimeout, cancellationToken).ConfigureAwait(false);
        if (reachable)
        {
            checks.Add(await CredentialKeyAsync(DefaultTimeout, cancellationToken).ConfigureAwait(false));
        }

        checks.AddRange(Workers());
        return new NodeReport(checks);
    }

    /// <summary>Adds the database and migrations checks; false when the database did not answer
    /// or lacks migrations this binary needs (the checks that read it are then left out).</summary>
    public async Task<bool> SchemaAsync(List<NodeCheck> checks, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(checks);
        SchemaVersions schema;
        try
        {
            schema = await WithinAsync(timeout, database.ReadSchemaAsync, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsOwnFailure(ex, cancellationToken))
        {
            checks.Add(NodeCheck.Fail(Names.Database, $"The {database.Engine} database does not answer: {Reason(ex, timeout)} "
                + "What to do: check that the database server runs and that HERALD_DATABASE (or --database) names it; for SQLite, that the data directory is readable and writable by this user."));
            return false;
        }

        checks.Add(NodeCheck.Ok(Names.Database, $"The {database.Engine} database answers."));
        var migrations = Migrations(schema);
        checks.Add(migrations);
        return migrations.Status != CheckStatus.Fail;
    }

    /// <summary>Whether the database has every migration this binary knows and none it does not.</summary>
    public static NodeCheck Migrations(SchemaVersions schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        if (schema.Applied.Count == 0)
        {
            return NodeCheck.Fail(Names.Migrations, $"The database has no Herald schema ({schema.Known.Count} migrations to apply): it is empty or not Herald's. herald serve applies them when it starts.");
        }

        if (schema.Pending.Count > 0)
        {
            return NodeCheck.Fail(Names.Migrations, $"{schema.Pending.Count} migration(s) of this binary are not applied ({Versions(schema.Pending)}): the database is older than this node. Start herald serve (it applies them), then check again.");
        }

        if (schema.Unknown.Count > 0)
        {
            // Migrations are additive: an older node keeps working beside a newer one during a rolling upgrade.
            return NodeCheck.Warn(Names.Migrations, $"The database has migration(s) this binary does not know ({Versions(schema.Unknown)}): a newer Herald migrated it. This node keeps working (migrations are additive); upgrade it.");
        }

        return NodeCheck.Ok(Names.Migrations, $"All {schema.Known.Count} migrations are applied (latest {schema.Known.Max():D4}).");
    }

    /// <summary>Whether this node's credential key is the database's, so that it can open what is
    /// sealed there: the check value the key derives equals the database's.</summary>
    public async Task<NodeCheck> CredentialKeyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            return await WithinAsync(timeout, CredentialKeyAsync, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsOwnFailure(ex, cancellationToken))
        {
            return NodeCheck.Fail(Names.CredentialKey, $"The credential key could not be checked: {Reason(ex, timeout)}");
        }
    }

    private async Task<NodeCheck> CredentialKeyAsync(CancellationToken cancellationToken)
    {
        var stored = await keys.GetKeyParametersAsync(cancellationToken).ConfigureAwait(false);
        var phrase = vault.Passphrase.Read();
        var onNode = phrase is not null;
        if (stored is null)
        {
            return onNode
                ? NodeCheck.Warn(Names.CredentialKey, $"This node has a passphrase ({vault.Passphrase.Origin}) and the database no key yet: herald serve makes it the database's key when it starts.")
                : NodeCheck.Warn(Names.CredentialKey, "No credential key is set: SMTP passwords and other secrets cannot be stored. Run 'herald key set' (or set HERALD_CREDENTIAL_KEY or HERALD_CREDENTIAL_KEY_FILE) with the same passphrase on every node.");
        }

        if (!onNode)
        {
            return NodeCheck.Fail(Names.CredentialKey, CredentialKeyStatus.MissingOnNode.Problem!);
        }

        // Deriving a key is slow on purpose, and /readyz needs no key: a passphrase already found
        // wrong for these parameters is not derived again on every request.
        var attempt = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(phrase!))) + Convert.ToHexString(stored.CheckValue);
        if (_refused is { } refused && refused.Attempt == attempt)
        {
            return NodeCheck.Fail(Names.CredentialKey, refused.Problem);
        }

        var status = await vault.GetKeyAsync(initializeDatabase: false, cancellationToken).ConfigureAwait(false);
        if (status.Key is not { } key)
        {
            _refused = (attempt, status.Problem!);
            return NodeCheck.Fail(Names.CredentialKey, status.Problem!);
        }

        // The vault keeps the key it unlocked at start; another node may have rotated the database's since.
        return key.Matches(stored)
            ? NodeCheck.Ok(Names.CredentialKey, $"The key from {vault.Passphrase.Origin} matches the database's: it opens the secrets stored there.")
            : NodeCheck.Fail(Names.CredentialKey, "The database's credential key changed after this node unlocked it (rotated on another node?): secrets sealed under the new key cannot be opened here. "
                + "Give this node the new passphrase ('herald key set', or HERALD_CREDENTIAL_KEY) and restart it.");
    }

    /// <summary>One check per background worker of this process; none when it runs no workers (a CLI verb).</summary>
    public IEnumerable<NodeCheck> Workers() =>
        hostedServices.OfType<BackgroundService>().Select(worker =>
        {
            var name = $"worker {WorkerName(worker)}";
            return worker.ExecuteTask switch
            {
                null => NodeCheck.Fail(name, "Not started yet."),
                { IsFaulted: true } task => NodeCheck.Fail(name, $"Stopped on an error: {task.Exception!.InnerException?.Message} Restart herald serve; the log has the details."),
                { IsCompleted: true } => NodeCheck.Fail(name, "Stopped (the node is shutting down, or the worker ended)."),
                _ => NodeCheck.Ok(name, "Running."),
            };
        });

    /// <summary>How far the database's clock is from this node's, measured at the middle of the round trip.</summary>
    public async Task<NodeCheck> ClockSkewAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (database.SharesThisMachinesClock)
        {
            return NodeCheck.Ok(Names.Clock, $"The {database.Engine} database is a file on this machine and shares its clock.");
        }

        try
        {
            var sent = time.GetUtcNow();
            var remote = await WithinAsync(timeout, database.ReadClockAsync, cancellationToken).ConfigureAwait(false);
            var received = time.GetUtcNow();
            var roundTrip = received - sent;
            var skew = remote - (sent + (roundTrip / 2));
            var said = $"The database's clock is {Seconds(skew.Duration())} {(skew >= TimeSpan.Zero ? "ahead of" : "behind")} this node's (round trip {Seconds(roundTrip)}).";
            return skew.Duration() switch
            {
                var d when d > ClockFailsAbove => NodeCheck.Fail(Names.Clock, $"{said} Leases, retries and digests compare the two: synchronise both clocks (NTP, e.g. systemd-timesyncd or chrony)."),
                var d when d > ClockWarnsAbove => NodeCheck.Warn(Names.Clock, $"{said} Synchronise both clocks (NTP) before the difference grows."),
                _ => NodeCheck.Ok(Names.Clock, said),
            };
        }
        catch (Exception ex) when (IsOwnFailure(ex, cancellationToken))
        {
            return NodeCheck.Fail(Names.Clock, $"The database's clock could not be read: {Reason(ex, timeout)}");
        }
    }

    /// <summary>Beyond this, a node's leases and schedules disagree with the others' noticeably.</summary>
    public static readonly TimeSpan ClockWarnsAbove = TimeSpan.FromSeconds(2);

    /// <summary>Beyond this, a lease (two minutes by default) can expire early or late enough to
    /// matter, and Kerberos (five minutes) is not far.</summary>
    public static readonly TimeSpan ClockFailsAbove = TimeSpan.FromSeconds(30);

    /// <summary>Runs <paramref name="step"/> with a time limit of its own, linked to the caller's.</summary>
    public static async Task<T> WithinAsync<T>(TimeSpan timeout, Func<CancellationToken, Task<T>> step, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(step);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        return await step(limit.Token).ConfigureAwait(false);
    }

    /// <summary>Whatever went wrong in a check is the check's result, except the caller's own cancellation.</summary>
    public static bool IsOwnFailure(Exception exception, CancellationToken cancellationToken) =>
        exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested;

    /// <summary>Why a step failed, in a few words: the time limit, or the exception's message.</summary>
    public static string Reason(Exception exception, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception is OperationCanceledException or TimeoutException
            ? $"no answer within {Seconds(timeout)}."
            : $"{exception.GetBaseException().Message.TrimEnd('.')}.";
    }

    public static string Seconds(TimeSpan span) =>
        span < TimeSpan.FromSeconds(1)
            ? string.Create(CultureInfo.InvariantCulture, $"{span.TotalMilliseconds:0} ms")
            : string.Create(CultureInfo.InvariantCulture, $"{span.TotalSeconds:0.#} s");

    private static string Versions(IEnumerable<int> versions) => string.Join(", ", versions.Select(v => v.ToString("D4", CultureInfo.InvariantCulture)));

    private static string WorkerName(BackgroundService worker) => worker.GetType().Name switch
    {
        "DeliveryWorker" => "outbox delivery",
        "ConnectionProbes" => "connection probes",
        "NotificationEngine" => "notification fan-out",
        "DigestScheduler" => "digests",
        "RelayListenerHost" => "relay listeners",
        var other => other,
    };

    /// <summary>The checks' names, as reports show them.</summary>
    public static class Names
    {
        public const string Database = "database";
        public const string Migrations = "migrations";
        public const string CredentialKey = "credential key";
        public const string Clock = "clock skew";
        public const string Disk = "free disk";
    }
}
