using Herald.Outbox;

namespace Herald.Web.Console.Queue;

/// <summary>How a recipient state looks: green when delivered, amber while pending, red when it failed for good.</summary>
public static class States
{
    public static string Css(RecipientState state) => state switch
    {
        RecipientState.Sent => "badge-good",
        RecipientState.Queued => "badge-default",
        RecipientState.Deferred => "badge-warn",
        RecipientState.Cancelled => "badge-muted",
        _ => "badge-bad",
    };
}
