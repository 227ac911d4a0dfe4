using Herald.Notifications;

namespace Herald.Web.Console.Notifications;

/// <summary>A select of the directory's groups and users (a typed <c>user:id</c> when the
/// directory is too large to list), named <see cref="Field"/>.</summary>
public sealed record PrincipalPickerView(
    ConsolePage Page, string Field, string Selected, bool UsesPicker, IReadOnlyList<DirectoryUser> Users, IReadOnlyList<DirectoryGroup> Groups);
