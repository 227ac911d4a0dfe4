using System.Net;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Herald.Relay;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Access;

/// <summary>A person who signs in to the web console and administers a scope and the scopes
/// below it (<c>/</c>: everything, including the SMTP connections every scope shares).
/// <see cref="SecurityStamp"/> changes whenever the password or the scope does: a console session
/// carries the stamp it was signed in with and ends when the stored one differs.</summary>
public sealed record Administrator(string Name, ScopePath Scope, DateTimeOffset CreatedAt, int FailedAttempts, DateTimeOffset? LockedUntil, string SecurityStamp)
{
    public bool Administers(ScopePath scope) => scope.IsSameOrDescendantOf(Scope);

    /// <summary>A new random stamp: 128 bits, as hex.</summary>
    public static string NewSecurityStamp() => RandomNumberGenerator.GetHexString(32, lowercase: true);
}

public interface IAdministratorStore
{
    Task<IReadOnlyList<Administrator>> ListAsync(CancellationToken cancellationToken);

    Task<Administrator?> FindAsync(string name, CancellationToken cancellationToken);

    /// <summary>Adds the administrator; false when the name is taken.</summary>
    Task<bool> CreateAsync(Administrator administrator, string passwordHash, CancellationToken cancellationToken);

    /// <summary>Adds the administrator only while there is none at all (the one-time set-up link);
    /// false when another was created first.</summary>
    Task<bool> CreateFirstAsync(Administrator administrator, string passwordHash, CancellationToken cancellationToken);

    /// <summary>
    /// Counts a sign-in attempt as failed before its password is checked, in one atomic statement,
    /// unless the account is locked; returns the administrator (with the count including this
    /// attempt) and the password hash, or null for an unknown or locked name alike. The count
    /// reaching <paramref name="maxFailures"/> locks the account until <paramref name="lockUntil"/>;
    /// a lock-out that has run out (before <paramref name="now"/>) starts the count again. Counting
    /// first is what makes parallel guesses lock after exactly <paramref name="maxFailures"/>.
    /// </summary>
    Task<(Administrator Administrator, string PasswordHash)?> ClaimSignInAttemptAsync(
        string name, DateTimeOffset now, int maxFailures, DateTimeOffset lockUntil, CancellationToken cancellationToken);

    /// <summary>The password was right: the attempts counted so far, and any lock-out, are cleared.</summary>
    Task RecordSuccessAsync(string name, CancellationToken cancellationToken);

    /// <summary>Replaces the password and the security stamp and lifts any lock-out; false for an unknown name.</summary>
    Task<bool> SetPasswordAsync(string name, string passwordHash, string securityStamp, CancellationToken cancellationToken);

    /// <summary>Moves the administrator to another scope with a new security stamp; false for an unknown name.</summary>
    Task<bool> SetScopeAsync(string name, ScopePath scope, string securityStamp, CancellationToken cancellationToken);

    Task<bool> RemoveAsync(string name, CancellationToken cancellationToken);
}

/// <summary>The outcome of a sign-in, with the sentence to show.</summary>
public abstract record AdministratorSignIn
{
    public sealed record Success(Administrator Administrator) : AdministratorSignIn;

    /// <summary>An unknown name, a wrong password and a locked account: one answer, reached the
    /// same way (one hash checked), so that none of them tells which names exist or are locked.</summary>
    public sealed record Invalid(string Sentence) : AdministratorSignIn;

    /// <summary>Nothing was checked: this client address failed too often lately, or the node has
    /// too many sign-ins to check at once.</summary>
    public sealed record TryLater(string Sentence) : AdministratorSignIn;
}

/// <summary>
/// Console administrators: passwords are kept as PBKDF2-SHA256 hashes (<see cref="RelayPasswords"/>,
/// 600,000 iterations, a salt per account) and checked through <see cref="PasswordChecks"/> (per
/// client address limits, off the socket threads, unknown names against a decoy); after
/// <see cref="MaxFailures"/> failed sign-ins in a row an account is locked for <see cref="LockOut"/>.
/// </summary>
public sealed partial class AdministratorService(IAdministratorStore store, ISettingsStore settings, PasswordChecks passwords, TimeProvider time)
{
    public const int MaxFailures = 5;
    public const int MinPasswordLength = 10;
    public const int MaxNameLength = 64;
    public static readonly TimeSpan LockOut = TimeSpan.FromMinutes(15);

    /// <summary>The answer to every sign-in that fails on its name or password, locked or not.</summary>
    public static readonly string InvalidSentence =
        $"That name and password do not match an administrator, or the account is locked after {MaxFailures} failed sign-ins in a row " +
        $"(for {LockOut.TotalMinutes:0} minutes, or until 'herald admin reset-password').";

    public static readonly string AddressLimitedSentence = "Too many failed sign-ins from your address. Try again in a few minutes.";

    public static readonly string BusySentence = "Herald is busy checking other sign-ins. Try again in a moment.";

    /// <summary>Whether any administrator exists (without one, the console offers its set-up link).</summary>
    public async Task<bool> AnyAsync(CancellationToken cancellationToken) =>
        (await store.ListAsync(cancellationToken).ConfigureAwait(false)).Count > 0;

    /// <summary>The administrators of the scopes <paramref name="caller"/> administers.</summary>
    public async Task<IReadOnlyList<Administrator>> ListAsync(Caller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return [.. (await store.ListAsync(cancellationToken).ConfigureAwait(false)).Where(a => caller.Administers(a.Scope))];
    }

    /// <summary>Adds an administrator of <paramref name="scope"/>, which the caller must administer.</summary>
    public async Task<Result<Administrator>> CreateAsync(Caller caller, string? name, string? scope, string? password, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var errors = new List<FieldError>();
        CheckName(name, errors);
        if (!ScopePath.TryParse(scope, out var path, out var scopeError))
        {
            errors.Add(new("scope", scopeError));
        }
        else if (caller.RefuseUnlessAdministers(path, $"add an administrator of {path}") is { } refusal)
        {
            return refusal;
        }

        CheckPassword(password, errors);
        if (errors.Count == 0 && !await settings.ScopeExistsAsync(path, cancellationToken).ConfigureAwait(false))
        {
            errors.Add(OutgoingSettingsService.ScopeMissing(path));
        }

        if (errors.Count > 0)
        {
            return Refusal.Invalid(errors, "The administrator was not added.");
        }

        var administrator = new Administrator(name!, path, time.GetUtcNow(), 0, null, Administrator.NewSecurityStamp());
        return await store.CreateAsync(administrator, await passwords.HashAsync(password!, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false)
            ? administrator
            : Refusal.Conflict(new FieldError("name", $"An administrator named '{name}' exists already."));
    }

    /// <summary>Adds the first administrator, of <c>/</c>, only while none exists: the one-time set-up
    /// link's holder (the operator who read serve's log) is the caller.</summary>
    public async Task<Result<Administrator>> CreateFirstAsync(string? name, string? password, CancellationToken cancellationToken)
    {
        var errors = new List<FieldError>();
        CheckName(name, errors);
        CheckPassword(password, errors);
        if (errors.Count > 0)
        {
            return Refusal.Invalid(errors, "The administrator was not added.");
        }

        var administrator = new Administrator(name!, ScopePath.Root, time.GetUtcNow(), 0, null, Administrator.NewSecurityStamp());
        return await store.CreateFirstAsync(administrator, await passwords.HashAsync(password!, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false)
            ? administrator
            : Refusal.Conflict(new FieldError("name", "An administrator exists already: sign in instead."));
    }

    /// <summary>Sets a new password and lifts any lock-out; the administrator's sessions end.</summary>
    public async Task<Refusal?> ResetPasswordAsync(Caller caller, string name, string? password, CancellationToken cancellationToken)
    {
        var errors = new List<FieldError>();
        CheckPassword(password, errors);
        if (errors.Count > 0)
        {
            return Refusal.Invalid(errors, "The password was not changed.");
        }

        if (await FindAdministeredAsync(caller, name, cancellationToken).ConfigureAwait(false) is { } refusal)
        {
            return refusal;
        }

        var hash = await passwords.HashAsync(password!, cancellationToken).ConfigureAwait(false);
        return await store.SetPasswordAsync(name, hash, Administrator.NewSecurityStamp(), cancellationToken).ConfigureAwait(false) ? null : NoSuch(name);
    }

    /// <summary>Moves an administrator to another scope (the caller administers both); their sessions end.</summary>
    public async Task<Refusal?> SetScopeAsync(Caller caller, string name, string? scope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (!ScopePath.TryParse(scope, out var path, out var scopeError))
        {
            return Refusal.Invalid("scope", scopeError);
        }

        if (await FindAdministeredAsync(caller, name, cancellationToken).ConfigureAwait(false) is { } refusal)
        {
            return refusal;
        }

        if (caller.RefuseUnlessAdministers(path, $"make {name} an administrator of {path}") is { } above)
        {
            return above;
        }

        if (!await settings.ScopeExistsAsync(path, cancellationToken).ConfigureAwait(false))
        {
            return Refusal.Invalid([OutgoingSettingsService.ScopeMissing(path)], "The scope was not changed.");
        }

        return await store.SetScopeAsync(name, path, Administrator.NewSecurityStamp(), cancellationToken).ConfigureAwait(false) ? null : NoSuch(name);
    }

    /// <summary>Removes an administrator; their sessions end at once on every node.</summary>
    public async Task<Refusal?> RemoveAsync(Caller caller, string name, CancellationToken cancellationToken) =>
        await FindAdministeredAsync(caller, name, cancellationToken).ConfigureAwait(false)
        ?? (await store.RemoveAsync(name, cancellationToken).ConfigureAwait(false) ? null : NoSuch(name));

    /// <summary>
    /// Checks a name and password from <paramref name="client"/>. The attempt is counted before the
    /// password is checked (<see cref="IAdministratorStore.ClaimSignInAttemptAsync"/>) and cleared
    /// when it was right; a locked account is not checked at all and answers like an unknown name.
    /// </summary>
    public async Task<AdministratorSignIn> SignInAsync(string? name, string? password, IPAddress client, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var check = await passwords.CheckAsync(
            client,
            password,
            token => string.IsNullOrEmpty(name) || name.Length > MaxNameLength
                ? Task.FromResult<(Administrator, string)?>(null)
                : store.ClaimSignInAttemptAsync(name, now, MaxFailures, now + LockOut, token),
            cancellationToken).ConfigureAwait(false);
        switch (check.Outcome)
        {
            case PasswordCheckOutcome.Matched:
                await store.RecordSuccessAsync(check.Account!.Name, cancellationToken).ConfigureAwait(false);
                return new AdministratorSignIn.Success(check.Account with { FailedAttempts = 0, LockedUntil = null });
            case PasswordCheckOutcome.AddressLimited:
                return new AdministratorSignIn.TryLater(AddressLimitedSentence);
            case PasswordCheckOutcome.Busy:
                return new AdministratorSignIn.TryLater(BusySentence);
            default:
                return new AdministratorSignIn.Invalid(InvalidSentence);
        }
    }

    /// <summary>The administrator a console session belongs to while the session is still good: the
    /// administrator exists with the scope and the security stamp the session was signed in with.
    /// Null ends the session (removed, new password, other scope).</summary>
    public async Task<Administrator?> ResumeSessionAsync(string? name, string? scope, string? securityStamp, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength || securityStamp is null)
        {
            return null;
        }

        var administrator = await store.FindAsync(name, cancellationToken).ConfigureAwait(false);
        return administrator is not null && administrator.Scope.Value == scope && administrator.SecurityStamp == securityStamp ? administrator : null;
    }

    /// <summary>Null when the administrator exists and the caller administers their scope; an
    /// administrator of another scope is "not found", exactly as one who does not exist.</summary>
    private async Task<Refusal?> FindAdministeredAsync(Caller caller, string name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var administrator = name.Length > MaxNameLength ? null : await store.FindAsync(name, cancellationToken).ConfigureAwait(false);
        return administrator is not null && caller.Administers(administrator.Scope) ? null : NoSuch(name);
    }

    private static Refusal NoSuch(string name) => Refusal.NotFound($"No administrator is named '{name}'.");

    private static void CheckName(string? name, List<FieldError> errors)
    {
        if (name is null || !NamePattern().IsMatch(name))
        {
            errors.Add(new("name", $"A name is 1 to {MaxNameLength} characters: letters, digits, '.', '_', '-' or '@'."));
        }
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
