using System.Text.RegularExpressions;
using Herald.Relay;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Access;

/// <summary>A person who signs in to the web console and administers a scope and the scopes
/// below it (<c>/</c>: everything, including the SMTP connections every scope shares).</summary>
public sealed record Administrator(string Name, ScopePath Scope, DateTimeOffset CreatedAt, int FailedAttempts, DateTimeOffset? LockedUntil)
{
    public bool Administers(ScopePath scope) => scope.IsSameOrDescendantOf(Scope);
}

public interface IAdministratorStore
{
    Task<IReadOnlyList<Administrator>> ListAsync(CancellationToken cancellationToken);

    Task<(Administrator Administrator, string PasswordHash)?> FindAsync(string name, CancellationToken cancellationToken);

    /// <summary>Adds the administrator; false when the name is taken.</summary>
    Task<bool> CreateAsync(Administrator administrator, string passwordHash, CancellationToken cancellationToken);

    /// <summary>Adds the administrator only while there is none at all (the one-time set-up link);
    /// false when another was created first.</summary>
    Task<bool> CreateFirstAsync(Administrator administrator, string passwordHash, CancellationToken cancellationToken);

    /// <summary>Replaces the password and lifts any lock-out; false for an unknown name.</summary>
    Task<bool> SetPasswordAsync(string name, string passwordHash, CancellationToken cancellationToken);

    Task<bool> RemoveAsync(string name, CancellationToken cancellationToken);

    /// <summary>Counts a failed sign-in (a lock-out that has run out starts the count again) and
    /// locks the account until <paramref name="lockUntil"/> once the count reaches <paramref name="maxFailures"/>.</summary>
    Task RecordFailureAsync(string name, DateTimeOffset now, int maxFailures, DateTimeOffset lockUntil, CancellationToken cancellationToken);

    Task RecordSuccessAsync(string name, CancellationToken cancellationToken);
}

/// <summary>The outcome of a sign-in: the administrator, or why not (never which of name or password was wrong).</summary>
public abstract record AdministratorSignIn
{
    public sealed record Success(Administrator Administrator) : AdministratorSignIn;

    public sealed record Invalid : AdministratorSignIn;

    public sealed record LockedOut(DateTimeOffset Until) : AdministratorSignIn;
}

/// <summary>
/// Console administrators: passwords are kept as PBKDF2-SHA256 hashes (<see cref="RelayPasswords"/>,
/// 600,000 iterations, a salt per account) and checked in fixed time, unknown names included;
/// after <see cref="MaxFailures"/> failed sign-ins in a row an account is locked for <see cref="LockOut"/>.
/// </summary>
public sealed partial class AdministratorService(IAdministratorStore store, ISettingsStore settings, TimeProvider time)
{
    public const int MaxFailures = 5;
    public const int MinPasswordLength = 10;
    public static readonly TimeSpan LockOut = TimeSpan.FromMinutes(15);

    public Task<IReadOnlyList<Administrator>> ListAsync(CancellationToken cancellationToken) => store.ListAsync(cancellationToken);

    /// <summary>Adds an administrator, or says what is wrong with each field; with
    /// <paramref name="onlyIfFirst"/>, only while no administrator exists yet.</summary>
    public async Task<IReadOnlyList<FieldError>> CreateAsync(string? name, string? scope, string? password, bool onlyIfFirst, CancellationToken cancellationToken)
    {
        var errors = new List<FieldError>();
        if (name is null || !NamePattern().IsMatch(name))
        {
            errors.Add(new("name", "A name is 1 to 64 characters: letters, digits, '.', '_', '-' or '@'."));
        }

        if (!ScopePath.TryParse(scope, out var path, out var scopeError))
        {
            errors.Add(new("scope", scopeError));
        }

        CheckPassword(password, errors);
        if (errors.Count == 0 && !await settings.ScopeExistsAsync(path, cancellationToken).ConfigureAwait(false))
        {
            errors.Add(OutgoingSettingsService.ScopeMissing(path));
        }

        if (errors.Count > 0)
        {
            return errors;
        }

        var administrator = new Administrator(name!, path, time.GetUtcNow(), 0, null);
        var hash = RelayPasswords.Hash(password!);
        var created = onlyIfFirst
            ? await store.CreateFirstAsync(administrator, hash, cancellationToken).ConfigureAwait(false)
            : await store.CreateAsync(administrator, hash, cancellationToken).ConfigureAwait(false);
        return created ? [] : [new("name", onlyIfFirst ? "An administrator exists already: sign in instead." : $"An administrator named '{name}' exists already.")];
    }

    public async Task<IReadOnlyList<FieldError>> ResetPasswordAsync(string name, string? password, CancellationToken cancellationToken)
    {
        var errors = new List<FieldError>();
        CheckPassword(password, errors);
        if (errors.Count > 0)
        {
            return errors;
        }

        return await store.SetPasswordAsync(name, RelayPasswords.Hash(password!), cancellationToken).ConfigureAwait(false)
            ? []
            : [new("name", $"No administrator is named '{name}'.")];
    }

    public Task<bool> RemoveAsync(string name, CancellationToken cancellationToken) => store.RemoveAsync(name, cancellationToken);

    public async Task<AdministratorSignIn> SignInAsync(string? name, string? password, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var found = string.IsNullOrEmpty(name) || name.Length > 64 ? null : await store.FindAsync(name, cancellationToken).ConfigureAwait(false);
        if (found is { Administrator.LockedUntil: { } until } && until > now)
        {
            // Locked: the password is not even checked, so guessing on goes nowhere.
            return new AdministratorSignIn.LockedOut(until);
        }

        // Checked against a decoy hash for an unknown name, so that both take as long.
        var valid = !string.IsNullOrEmpty(password) && password.Length <= RelayPasswords.MaxLength
            && RelayPasswords.Verify(password, found?.PasswordHash);
        if (found is not { } account)
        {
            return new AdministratorSignIn.Invalid();
        }

        if (!valid)
        {
            await store.RecordFailureAsync(account.Administrator.Name, now, MaxFailures, now + LockOut, cancellationToken).ConfigureAwait(false);
            var after = await store.FindAsync(account.Administrator.Name, cancellationToken).ConfigureAwait(false);
            return after is { Administrator.LockedUntil: { } lockedUntil } && lockedUntil > now
                ? new AdministratorSignIn.LockedOut(lockedUntil)
                : new AdministratorSignIn.Invalid();
        }

        await store.RecordSuccessAsync(account.Administrator.Name, cancellationToken).ConfigureAwait(false);
        return new AdministratorSignIn.Success(account.Administrator with { FailedAttempts = 0, LockedUntil = null });
    }

    private static void CheckPassword(string? password, List<FieldError> errors)
    {
        if (password is null || password.Length < MinPasswordLength || password.Length > RelayPasswords.MaxLength || password.Any(char.IsControl))
        {
            errors.Add(new("password", $"A password is {MinPasswordLength} to {RelayPasswords.MaxLength} characters on one line."));
        }
    }

    [GeneratedRegex("^[A-Za-z0-9._@-]{1,64}$")]
    private static partial Regex NamePattern();
}
