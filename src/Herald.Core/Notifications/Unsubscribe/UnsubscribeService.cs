namespace Herald.Notifications.Unsubscribe;

/// <summary>What an unsubscribe link turns off, for the page that asks to confirm.</summary>
public sealed record UnsubscribeTarget(NotificationOrigin Origin, string Description);

/// <summary>What a confirmed unsubscribe did.</summary>
public enum UnsubscribeOutcome
{
    /// <summary>The recipient's own subscription was turned off.</summary>
    SubscriptionDisabled,

    /// <summary>The recipient was opted out of a group's subscription, a rule or administrative messages.</summary>
    OptedOut,

    /// <summary>Nothing left to do: already off, or already opted out.</summary>
    AlreadyDone,
}

/// <summary>
/// Applies one-click unsubscribes. The recipient's own subscription is disabled; for anything
/// else (a group's subscription, a rule, administrative messages) the recipient is opted out, so
/// the group's other members keep receiving it. Applying a link twice changes nothing more.
/// </summary>
public sealed class UnsubscribeService(UnsubscribeLinks links, ISubscriptionStore subscriptions, TimeProvider time)
{
    public async Task<(UnsubscribeTarget? Target, UnsubscribeTokenProblem Problem)> DescribeAsync(string? token, CancellationToken cancellationToken)
    {
        var (origin, problem) = await links.ReadAsync(token, cancellationToken).ConfigureAwait(false);
        return origin is null ? (null, problem) : (new UnsubscribeTarget(origin, await DescribeAsync(origin, cancellationToken).ConfigureAwait(false)), problem);
    }

    public async Task<(UnsubscribeTarget? Target, UnsubscribeOutcome Outcome, UnsubscribeTokenProblem Problem)> ApplyAsync(string? token, CancellationToken cancellationToken)
    {
        var (origin, problem) = await links.ReadAsync(token, cancellationToken).ConfigureAwait(false);
        if (origin is null)
        {
            return (null, UnsubscribeOutcome.AlreadyDone, problem);
        }

        var target = new UnsubscribeTarget(origin, await DescribeAsync(origin, cancellationToken).ConfigureAwait(false));
        var now = time.GetUtcNow();
        if (origin.Kind == NotificationSourceKind.Subscription
            && await subscriptions.FindAsync(origin.SourceId, cancellationToken).ConfigureAwait(false) is { } subscription
            && subscription.Owner == Principal.User(origin.Recipient))
        {
            if (!subscription.Enabled)
            {
                return (target, UnsubscribeOutcome.AlreadyDone, problem);
            }

            var disabled = await subscriptions.DisableAsync(subscription.Id, now, cancellationToken).ConfigureAwait(false);
            return (target, disabled ? UnsubscribeOutcome.SubscriptionDisabled : UnsubscribeOutcome.AlreadyDone, problem);
        }

        var added = await subscriptions.AddOptOutAsync(origin, now, cancellationToken).ConfigureAwait(false);
        return (target, added ? UnsubscribeOutcome.OptedOut : UnsubscribeOutcome.AlreadyDone, problem);
    }

    private async Task<string> DescribeAsync(NotificationOrigin origin, CancellationToken cancellationToken) => origin.Kind switch
    {
        NotificationSourceKind.Subscription => await subscriptions.FindAsync(origin.SourceId, cancellationToken).ConfigureAwait(false) is { } s
            ? $"the alert \"{s.Name}\""
            : "an alert that no longer exists",
        NotificationSourceKind.Rule => await subscriptions.FindRuleAsync(origin.SourceId, cancellationToken).ConfigureAwait(false) is { } r
            ? $"the notification rule \"{r.Name}\""
            : "a notification rule that no longer exists",
        _ => $"administrative messages of {origin.SourceId}",
    };
}
