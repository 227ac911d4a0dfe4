using Herald.Outbox;

namespace Herald.Web.Console.Queue;

/// <summary>How recipient states and subjects look in the queue: a state green when delivered,
/// amber while pending, red when it failed for good.</summary>
public static class States
{
    public static string Css(RecipientState state) => state switch
    {
        RecipientState.Sent => "badge-good",
        RecipientState.Queued => "badge-default",
        RecipientState.Deferred => "badge-warn",
        RecipientState.Cancelled or RecipientState.Suppressed => "badge-muted",
        _ => "badge-bad",
    };

    /// <summary>How a subject is listed: messages queued before subjects were stored have none recorded.</summary>
    public static string Subject(string? subject) => subject switch
    {
        null => "(subject not recorded)",
        "" => "(no subject)",
        _ => subject,
    };
}
