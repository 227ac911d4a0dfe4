using Herald.Scopes;

namespace Herald.Outbox;

/// <summary>How many delivery attempts for one recipient ended in <paramref name="Outcome"/>
/// during the hour starting at <paramref name="Hour"/>.</summary>
public sealed record HourlyOutcomeCount(DateTimeOffset Hour, RecipientState Outcome, long Count);

/// <summary>The outbox in figures, for the console's dashboard: always within one scope and the
/// scopes below it, since a scope administrator sees only those.</summary>
public interface IOutboxStatistics
{
    /// <summary>Attempt outcomes per hour since <paramref name="since"/> (hours with none are left out).</summary>
    Task<IReadOnlyList<HourlyOutcomeCount>> CountAttemptsByHourAsync(ScopePath scope, DateTimeOffset since, CancellationToken cancellationToken);

    /// <summary>Recipients per state in the scope and below.</summary>
    Task<IReadOnlyDictionary<RecipientState, long>> CountByStateAsync(ScopePath scope, CancellationToken cancellationToken);
}
