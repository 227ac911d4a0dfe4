using Herald.Notifications;

namespace Herald.Web.Console.Groups;

/// <summary>Every group with its alias, delivery and how many people it reaches through nested groups.</summary>
public sealed class IndexModel(IDirectoryStore store, DirectoryCache directory) : ConsolePage
{
    public IReadOnlyList<DirectoryGroup> Groups { get; private set; } = [];

    public DirectoryView View { get; private set; } = DirectoryView.Empty;

    public async Task OnGetAsync()
    {
        Groups = await store.ListGroupsAsync(HttpContext.RequestAborted);
        View = await directory.GetViewAsync(HttpContext.RequestAborted);
    }
}
