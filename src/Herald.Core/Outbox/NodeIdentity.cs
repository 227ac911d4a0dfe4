namespace Herald.Outbox;

/// <summary>This node's name (in leases and attempt history) and tags (which SMTP connections it
/// may use, as Harness's delegate selectors).</summary>
public sealed record NodeIdentity(string Name, IReadOnlyList<string> Tags)
{
    public bool MayUse(Settings.SmtpConnection connection) =>
        connection.NodeTags.Count == 0 || connection.NodeTags.Intersect(Tags, StringComparer.OrdinalIgnoreCase).Any();
}
