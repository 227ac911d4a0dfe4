using System.Diagnostics;
using System.Text;
using Herald.Access;
using Herald.Credentials;
using Herald.Settings;
using Microsoft.Extensions.Logging;

namespace Herald.Notifications.Sync;

/// <summary>What one sync of one source did (or, for a dry run, would do).</summary>
public sealed record DirectorySyncReport(string Source, bool DryRun, bool Full, DirectorySyncPlan Plan, TimeSpan ReadTime, TimeSpan WriteTime)
{
    public bool Stopped => Plan.Stopped is not null;

    /// <summary>The outcome in one sentence, as recorded on the source and printed by the CLI.</summary>
    public string Outcome => Plan.Stopped ?? $"{(DryRun ? "Would change" : "Synced")} ({(Full ? "full" : "delta")}) {Plan.Counts}.";
}

/// <summary>
/// Directory sources and their sync, given the caller: only administrators of <c>/</c> (and the
/// local operator) configure, read and sync a source, since its users are everyone's. A source's
/// bind password is sealed with the credential key and never returned. A sync reads the source,
/// plans inside the directory's serialized write (so what it decides on stays true until it
/// commits), applies the plan in that one transaction with one new revision, and records the
/// outcome on the source; a dry run plans against the directory as it is and changes nothing.
/// </summary>
public sealed partial class DirectorySyncService(
    IDirectorySourceStore sources,
    IDirectoryStore directory,
    IDirectorySourceReader reader,
    DirectoryCache cache,
    CredentialVault vault,
    TimeProvider time,
    ILogger<DirectorySyncService> logger)
{
    public async Task<Result<IReadOnlyList<DirectorySource>>> ListSourcesAsync(Caller caller, CancellationToken cancellationToken) =>
        Refuse(caller, "read directory sources") ?? Result.Of(await sources.ListAsync(cancellationToken).ConfigureAwait(false));

    public async Task<Result<DirectorySource>> FindSourceAsync(Caller caller, string? name, CancellationToken cancellationToken)
    {
        if (Refuse(caller, "read directory sources") is { } refusal)
        {
            return refusal;
        }

        return DirectoryIds.TryCheck(name, out _) && await sources.FindAsync(name!, cancellationToken).ConfigureAwait(false) is { } source ? source : NoSource(name);
    }

    /// <summary>Adds or changes a source. <paramref name="password"/> null keeps the stored one (a
    /// source saved without one is kept, and its sync says the password is missing, as an SMTP
    /// connection's does). It is sealed with the credential key before it reaches the store.</summary>
    public async Task<Result<Saved<DirectorySource>>> SaveSourceAsync(Caller caller, DirectorySourceUpdate update, string? password, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(update);
        if (Refuse(caller, "change directory sources") is { } refusal)
        {
            return refusal;
        }

        var errors = new List<FieldError>();
        if (!DirectoryIds.TryCheck(update.Name, out var nameError))
        {
            errors.Add(new("name", nameError));
        }

        var existing = errors.Count == 0 ? await sources.FindAsync(update.Name!, cancellationToken).ConfigureAwait(false) : null;
        var settings = DirectorySourceRules.Apply(existing?.Settings, update, errors);
        if (password is not null && (password.Length is 0 or > DirectorySourceRules.MaxPasswordLength || password.Any(char.IsControl)))
        {
            errors.Add(new("password", $"The bind password is 1 to {DirectorySourceRules.MaxPasswordLength:N0} characters on one line."));
        }

        EncryptedSecret? sealedPassword = existing?.BindPassword;
        if (errors.Count == 0 && password is not null)
        {
            var status = await vault.GetKeyAsync(initializeDatabase: true, cancellationToken).ConfigureAwait(false);
            if (status.Key is not { } key)
            {
                errors.Add(new("password", status.Problem!));
            }
            else
            {
                sealedPassword = key.Seal(password, SecretNames.DirectorySourceBindPassword(update.Name!));
            }
        }

        if (errors.Count > 0 || settings is null)
        {
            return Refusal.Invalid(errors, "The directory source is not valid; nothing was saved.");
        }

        var source = (existing ?? new DirectorySource(update.Name!, settings)) with { Settings = settings, BindPassword = sealedPassword };
        var created = await sources.SaveAsync(source, keepPassword: password is null, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        return new Saved<DirectorySource>(source, created);
    }

    /// <summary>Removes a source and its password. Its users and groups stay, as local ones.</summary>
    public async Task<Refusal?> RemoveSourceAsync(Caller caller, string? name, CancellationToken cancellationToken)
    {
        if (Refuse(caller, "remove directory sources") is { } refusal)
        {
            return refusal;
        }

        if (!DirectoryIds.TryCheck(name, out _) || !await sources.RemoveAsync(name!, cancellationToken).ConfigureAwait(false))
        {
            return NoSource(name);
        }

        cache.Invalidate();
        return null;
    }

    /// <summary>Syncs one source (or every source when <paramref name="name"/> is null), fully or,
    /// with <paramref name="delta"/>, only what changed since the last mark (a source never synced
    /// fully syncs fully).</summary>
    public async Task<Result<IReadOnlyList<DirectorySyncReport>>> SyncAsync(Caller caller, string? name, bool dryRun, bool delta, CancellationToken cancellationToken)
    {
        if (Refuse(caller, "sync the directory") is { } refusal)
        {
            return refusal;
        }

        IReadOnlyList<DirectorySource> chosen;
        if (name is null)
        {
            chosen = await sources.ListAsync(cancellationToken).ConfigureAwait(false);
            if (chosen.Count == 0)
            {
                return Refusal.NotFound("No directory source is configured: add one with 'herald directory source set'.");
            }
        }
        else if (DirectoryIds.TryCheck(name, out _) && await sources.FindAsync(name, cancellationToken).ConfigureAwait(false) is { } one)
        {
            chosen = [one];
        }
        else
        {
            return NoSource(name);
        }

        var reports = new List<DirectorySyncReport>();
        foreach (var source in chosen)
        {
            var (report, problem) = await SyncSourceAsync(source, dryRun, delta, cancellationToken).ConfigureAwait(false);
            if (problem is not null)
            {
                return Refusal.Unavailable(problem);
            }

            reports.Add(report!);
        }

        return reports;
    }

    /// <summary>One source's sync; the problem when the source could not be read (recorded on it).</summary>
    public async Task<(DirectorySyncReport? Report, string? Problem)> SyncSourceAsync(DirectorySource source, bool dryRun, bool delta, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        var full = !delta || source.DeltaMark is null;
        var password = await OpenPasswordAsync(source, cancellationToken).ConfigureAwait(false);
        if (password.Problem is not null)
        {
            return await FailAsync(source, dryRun, password.Problem, cancellationToken).ConfigureAwait(false);
        }

        var started = Stopwatch.GetTimestamp();
        var (entries, readProblem) = await reader.ReadAsync(source.Settings, password.Text!, full ? null : source.DeltaMark, cancellationToken).ConfigureAwait(false);
        var readTime = Stopwatch.GetElapsedTime(started);
        if (entries is null)
        {
            return await FailAsync(source, dryRun, $"Directory source '{source.Name}' could not be read: {readProblem}", cancellationToken).ConfigureAwait(false);
        }

        var now = time.GetUtcNow();
        started = Stopwatch.GetTimestamp();
        DirectorySyncPlan plan;
        if (dryRun)
        {
            plan = DirectorySyncPlanner.Plan(source.Name, source.Settings, entries, full, await directory.LoadAsync(cancellationToken).ConfigureAwait(false), now);
        }
        else
        {
            plan = await directory.SyncAsync(
                source.Name, stored => DirectorySyncPlanner.Plan(source.Name, source.Settings, entries, full, stored, now), now, cancellationToken).ConfigureAwait(false);
            if (plan.ChangesAnything && plan.Stopped is null)
            {
                cache.Invalidate();
            }
        }

        var report = new DirectorySyncReport(source.Name, dryRun, full, plan, readTime, Stopwatch.GetElapsedTime(started));
        if (!dryRun)
        {
            // A stopped sync keeps the old mark: the next delta starts where the last applied one ended.
            await sources.RecordAsync(source.Name, report.Outcome, report.Stopped ? null : entries.Mark, full && !report.Stopped, now, cancellationToken).ConfigureAwait(false);
            LogSynced(logger, source.Name, report.Outcome);
        }

        return (report, null);
    }

    private async Task<(DirectorySyncReport?, string?)> FailAsync(DirectorySource source, bool dryRun, string problem, CancellationToken cancellationToken)
    {
        if (!dryRun)
        {
            await sources.RecordAsync(source.Name, problem, null, false, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            LogFailed(logger, source.Name, problem);
        }

        return (null, problem);
    }

    private async Task<(string? Text, string? Problem)> OpenPasswordAsync(DirectorySource source, CancellationToken cancellationToken)
    {
        var name = SecretNames.DirectorySourceBindPassword(source.Name);
        if (source.BindPassword is null)
        {
            return (null, $"Directory source '{source.Name}' has no bind password stored; give it again with 'herald directory source set {source.Name} --password-stdin'.");
        }

        var status = await vault.GetKeyAsync(initializeDatabase: false, cancellationToken).ConfigureAwait(false);
        if (status.Key is not { } key)
        {
            return (null, status.Problem);
        }

        return key.TryOpen(source.BindPassword, name, out var bytes)
            ? (Encoding.UTF8.GetString(bytes), null)
            : (null, $"The secret '{name}' cannot be decrypted with this node's credential key (it was altered, or sealed under another key); nothing was changed.");
    }

    private static Refusal? Refuse(Caller caller, string what)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return caller.AdministersRoot
            ? null
            : Refusal.NotAllowed($"{caller.Description} may not {what}: a directory source feeds the users of every scope, so only administrators of / configure and sync it.");
    }

    private static Refusal NoSource(string? name) => Refusal.NotFound($"There is no directory source '{DirectoryIds.Printable(name)}'.");

    [LoggerMessage(Level = LogLevel.Information, Message = "Directory source {Source}: {Outcome}")]
    private static partial void LogSynced(ILogger logger, string source, string outcome);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Directory source {Source}: {Problem}")]
    private static partial void LogFailed(ILogger logger, string source, string problem);
}
