using Herald.Scopes;
using Herald.Suppression;

namespace Herald.Notifications.Unsubscribe;

/// <summary>What "unsubscribe from everything" would suppress: this address, in this scope.</summary>
public sealed record EverythingTarget(ScopePath Scope, string Address);

/// <summary>
/// The second choice of the unsubscribe page: instead of the one subscription, rule or kind of
/// message the link names, nothing more at all from the notification's scope (and the scopes below
/// it) to the recipient's address, which goes on that scope's suppression list (reason
/// <c>unsubscribe-all</c>). The signed link is the authority, as for a one-click unsubscribe; the
/// page asks with an anti-forgery form so that only a person who opened it does this, never a
/// mail client's RFC 8058 POST or a scanner.
/// </summary>
public sealed class UnsubscribeFromEverything(UnsubscribeLinks links, ISubscriptionStore subscriptions, IDirectory directory, SuppressionService suppressions)
{
    /// <summary>The scope and address the link's notification went to; null when the link is not
    /// valid (see the problem), or names what no longer exists so that its scope is unknown.</summary>
    public async Task<(EverythingTarget? Target, UnsubscribeTokenProblem Problem)> DescribeAsync(string? token, CancellationToken cancellationToken)
    {
        var (origin, problem) = await links.ReadAsync(token, cancellationToken).ConfigureAwait(false);
        if (origin is null)
        {
            return (null, problem);
        }

        var scope = await ScopeOfAsync(origin, cancellationToken).ConfigureAwait(false);
        var address = await AddressOfAsync(origin, cancellationToken).ConfigureAwait(false);
        return (scope is { } s && address is not null ? new EverythingTarget(s, address) : null, problem);
    }

    /// <summary>Suppresses the address in the scope; Added is false when it was listed already.</summary>
    public async Task<(EverythingTarget? Target, bool Added, UnsubscribeTokenProblem Problem)> ApplyAsync(string? token, CancellationToken cancellationToken)
    {
        var (target, problem) = await DescribeAsync(token, cancellationToken).ConfigureAwait(false);
        if (target is null)
        {
            return (null, false, problem);
        }

        var added = await suppressions.UnsubscribeAllAsync(target.Scope, target.Address, cancellationToken).ConfigureAwait(false);
        return (target, added, problem);
    }

    private async Task<ScopePath?> ScopeOfAsync(NotificationOrigin origin, CancellationToken cancellationToken) => origin.Kind switch
    {
        NotificationSourceKind.Subscription => (await subscriptions.FindAsync(origin.SourceId, cancellationToken).ConfigureAwait(false))?.Scope,
        NotificationSourceKind.Rule => (await subscriptions.FindRuleAsync(origin.SourceId, cancellationToken).ConfigureAwait(false))?.Scope,
        _ => ScopePath.TryParse(origin.SourceId, out var scope, out _) ? scope : null,
    };

    /// <summary>The recipient's address: a user's as the directory has it now, or the address
    /// itself for a recipient that is no user (a rule's address, a group alias).</summary>
    private async Task<string?> AddressOfAsync(NotificationOrigin origin, CancellationToken cancellationToken)
    {
        var view = await directory.CurrentAsync(cancellationToken).ConfigureAwait(false);
        return view.FindUser(origin.Recipient) is { } user ? user.Email.Value
            : origin.Recipient.Contains('@', StringComparison.Ordinal) ? origin.Recipient
            : null;
    }
}
