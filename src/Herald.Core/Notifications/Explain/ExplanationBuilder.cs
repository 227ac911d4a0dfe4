using Herald.Outbox;

namespace Herald.Notifications.Explain;

/// <summary>
/// What one fan-out decides, gathered as it decides it: the sources that matched and every
/// candidate's outcome. Mailed candidates learn their message (and a suppression) once the
/// outbox has stored it. One per event and fan-out run; not shared between threads.
/// </summary>
public sealed class ExplanationBuilder
{
    private readonly List<MatchedSource> _sources = [];
    private readonly List<CandidateRecord> _candidates = [];

    public int Source(NotificationSourceKind kind, string id, string name, NotificationFrequency frequency)
    {
        var number = _sources.Count + 1;
        _sources.Add(new MatchedSource(number, kind, id, name, NotificationFrequencyNames.Values.NameOf(frequency)));
        return number;
    }

    /// <summary>Adds a candidate; returns its place, for <see cref="Queued"/>.</summary>
    public int Add(NotificationRecipient recipient, CandidateOutcome outcome, int source, int? other = null, string? detail = null)
    {
        ArgumentNullException.ThrowIfNull(recipient);
        _candidates.Add(new CandidateRecord(recipient.Address.Value, recipient.User?.Id, outcome, source, other, detail));
        return _candidates.Count - 1;
    }

    /// <summary>The email of the candidate at <paramref name="place"/> was stored as this message;
    /// a recipient the outbox found suppressed is recorded with the entry's reply.</summary>
    public void Queued(int place, EnqueueResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var candidate = _candidates[place];
        _candidates[place] = result.Suppressed.Count > 0
            ? candidate with { Outcome = CandidateOutcome.Suppressed, Detail = result.Suppressed[0].Reply, MessageId = result.Id }
            : candidate with { MessageId = result.Id };
    }

    /// <summary>The scope's email is off: whatever would have been mailed was dropped.</summary>
    public void Dropped(int place) => _candidates[place] = _candidates[place] with { Outcome = CandidateOutcome.ScopeDisabled };

    public ExplanationRecord Build(EventKey key, DateTimeOffset at, string? disabled) => new(key, at, _sources, _candidates, disabled);
}
