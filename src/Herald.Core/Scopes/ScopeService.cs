using Herald.Access;
using Herald.Settings;

namespace Herald.Scopes;

/// <summary>
/// The scope tree, for the CLI and the console: adding a scope takes an administrator of its
/// parent (an administrator of /hr adds /hr/payroll, not /hr2), removing one an administrator of
/// its parent too (nobody removes the scope they administer from under themselves), and / is
/// never removed. A caller sees the scopes it administers or sends into.
/// </summary>
public sealed class ScopeService(ISettingsStore store)
{
    /// <summary>The refusal of a scope that does not exist, as every use case words it.</summary>
    public static FieldError Missing(ScopePath scope) => new("scope", $"Scope {scope} does not exist.");

    /// <summary>The scopes the caller may see (administers or sends into), in path order.</summary>
    public async Task<IReadOnlyList<ScopePath>> ListAsync(Caller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var scopes = await store.ListScopesAsync(cancellationToken).ConfigureAwait(false);
        return scopes.Where(caller.MaySendInto).OrderBy(s => s.Value, StringComparer.Ordinal).ToArray();
    }

    /// <summary>Adds a scope under an existing parent; adding one that exists changes nothing
    /// (<see cref="Saved{T}.Created"/> is false).</summary>
    public async Task<Result<Saved<ScopePath>>> AddAsync(Caller caller, string? path, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (!ScopePath.TryParse(path, out var scope, out var error))
        {
            return Refusal.Invalid("scope", error);
        }

        var parent = scope.Parent ?? ScopePath.Root;
        if (!caller.Administers(parent))
        {
            return Refusal.NotAllowed($"{caller.Description} may not add scopes under {parent}: it is not an administrator of {parent}.");
        }

        if (!await store.ScopeExistsAsync(parent, cancellationToken).ConfigureAwait(false))
        {
            return Refusal.Invalid("scope", $"Scope {parent} does not exist: add it before {scope}.");
        }

        try
        {
            return new Saved<ScopePath>(scope, await store.AddScopeAsync(scope, cancellationToken).ConfigureAwait(false));
        }
        catch (InvalidOperationException)
        {
            // The parent was removed meanwhile (the store checks it inside its write).
            return Refusal.Invalid("scope", $"Scope {parent} does not exist: add it before {scope}.");
        }
    }

    /// <summary>Adds the scope named <paramref name="child"/> (one path segment) under <paramref name="parent"/>.</summary>
    public Task<Result<Saved<ScopePath>>> AddChildAsync(Caller caller, string? parent, string? child, CancellationToken cancellationToken)
    {
        if (!ScopePath.TryParse(parent, out var under, out var error))
        {
            return Task.FromResult<Result<Saved<ScopePath>>>(Refusal.Invalid("scope", error));
        }

        if (string.IsNullOrEmpty(child) || child.Contains('/', StringComparison.Ordinal) || !ScopePath.TryParse($"{(under.IsRoot ? "" : under.Value)}/{child}", out var path, out _)
            || path.Parent != under)
        {
            return Task.FromResult<Result<Saved<ScopePath>>>(Refusal.Invalid(
                "child", "Give the new scope's name: 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit, without '/'."));
        }

        return AddAsync(caller, path.Value, cancellationToken);
    }

    /// <summary>Removes a scope without children, with everything configured in it.</summary>
    public async Task<Refusal?> RemoveAsync(Caller caller, string? path, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (!ScopePath.TryParse(path, out var scope, out var error))
        {
            return Refusal.Invalid("scope", error);
        }

        if (scope.Parent is not { } parent)
        {
            return Refusal.Invalid("scope", "The global scope / cannot be removed.");
        }

        if (!caller.Administers(parent))
        {
            return Refusal.NotAllowed($"{caller.Description} may not remove scope {scope}: only administrators of {parent} do.");
        }

        if (!await store.ScopeExistsAsync(scope, cancellationToken).ConfigureAwait(false))
        {
            return Refusal.NotFound($"Scope {scope} does not exist.");
        }

        return await store.RemoveScopeAsync(scope, cancellationToken).ConfigureAwait(false)
            ? null
            : Refusal.Conflict(new FieldError("scope", $"Scope {scope} has child scopes: remove them first."));
    }
}
