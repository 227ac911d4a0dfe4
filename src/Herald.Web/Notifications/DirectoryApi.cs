using System.Text;
using Herald.Notifications;
using Herald.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

using static Herald.Web.ApiResults;

namespace Herald.Web.Notifications;

/// <summary><c>/api/v1/users</c>, <c>/api/v1/groups</c> and <c>/api/v1/directory/import</c>. The
/// directory is global (one user may have access in many scopes), so changing users and importing
/// takes an administrator key of <c>/</c>; a group is changed with an administrator key of the scope
/// it belongs to; any administrator key may read it all, to pick recipients and principals.</summary>
public static class DirectoryApi
{
    /// <summary>Largest import body: 100,000 users in CSV are about 10 MB.</summary>
    public const long MaxImportBytes = 64L * 1024 * 1024;

    public static RouteGroupBuilder MapDirectoryApi(this RouteGroupBuilder api)
    {
        var users = api.MapGroup("/users").WithTags("Directory");
        users.MapGet("", ListUsersAsync).WithName("listUsers").WithSummary("List users")
            .WithDescription("Every user of the directory, by id.");
        users.MapGet("/{id}", GetUserAsync).WithName("getUser").WithSummary("Get a user")
            .WithDescription("One user.");
        users.MapPut("/{id}", PutUserAsync).WithName("putUser").WithSummary("Add or change a user")
            .WithDescription("Add a user or change one; fields left out keep their values (a new user needs name and email; time zone defaults to UTC, language to en).");
        users.MapDelete("/{id}", DeleteUserAsync).WithName("deleteUser").WithSummary("Remove a user")
            .WithDescription("Remove a user with their group memberships and access entries.");

        var groups = api.MapGroup("/groups").WithTags("Directory");
        groups.MapGet("", ListGroupsAsync).WithName("listGroups").WithSummary("List groups")
            .WithDescription("Every group with its direct members.");
        groups.MapGet("/{id}", GetGroupAsync).WithName("getGroup").WithSummary("Get a group")
            .WithDescription("One group with its direct members.");
        groups.MapGet("/{id}/members", GetMembersAsync).WithName("getGroupMembers").WithSummary("List a group's members")
            .WithDescription("A group's direct members, or with expand=true every user reached through nested groups, each once.");
        groups.MapPut("/{id}", PutGroupAsync).WithName("putGroup").WithSummary("Add or change a group")
            .WithDescription("Add a group or change one, for administrators of the scope it belongs to (or a scope above); members (user:<id>, group:<id>) replace the stored list and must exist; a cycle is refused.");
        groups.MapDelete("/{id}", DeleteGroupAsync).WithName("deleteGroup").WithSummary("Remove a group")
            .WithDescription("Remove a group, its place in other groups and its access entries, for administrators of the scope it belongs to (or a scope above).");

        api.MapPost("/directory/import", ImportAsync).WithTags("Directory")
            .WithName("importDirectory").WithSummary("Import users and groups")
            .WithDescription("Add or replace users and groups from JSON (application/json) or CSV (text/csv) in one transaction: all or nothing, errors named by item or line.");
        return api;
    }

    public sealed record UserRequest(string? Name, string? Email, string? TimeZone, string? Language);

    public sealed record UserView(string Id, string Name, string Email, string TimeZone, string Language)
    {
        public static UserView From(DirectoryUser u) => new(u.Id, u.Name, u.Email.Value, u.TimeZone, u.Language);
    }

    /// <param name="Scope">The scope the group belongs to (default /): its administrators, and those of the scopes above, change the group.</param>
    public sealed record GroupRequest(string? Name, string? Alias, string? Delivery, IReadOnlyList<string>? Members, string? Scope = null);

    public sealed record GroupView(string Id, string Name, string Scope, string? Alias, string Delivery, IReadOnlyList<string> Members)
    {
        public static GroupView From(DirectoryGroup g) =>
            new(g.Id, g.Name, g.Scope.Value, g.Alias?.Value, GroupDeliveryNames.Values.NameOf(g.Delivery), g.Members.Select(m => m.ToString()).ToArray());
    }

    public sealed record MembersView(string Group, bool Expanded, IReadOnlyList<string>? Members, IReadOnlyList<UserView>? Users);

    public sealed record ImportResult(int UsersAdded, int UsersChanged, int GroupsAdded, int GroupsChanged);

    private static async Task<Results<Ok<UserView[]>, ProblemHttpResult>> ListUsersAsync(HttpContext context, DirectoryService service)
    {
        var users = await service.ListUsersAsync(context.Caller(), context.RequestAborted).ConfigureAwait(false);
        return users.Refusal is { } refusal ? Refused(refusal) : TypedResults.Ok(users.Value!.Select(UserView.From).ToArray());
    }

    private static async Task<Results<Ok<UserView>, ProblemHttpResult>> GetUserAsync(HttpContext context, string id, DirectoryService service)
    {
        var user = await service.FindUserAsync(context.Caller(), id, context.RequestAborted).ConfigureAwait(false);
        return user.Refusal is { } refusal ? Refused(refusal) : TypedResults.Ok(UserView.From(user.Value!));
    }

    private static async Task<Results<Ok<UserView>, Created<UserView>, ProblemHttpResult>> PutUserAsync(
        HttpContext context, string id, UserRequest request, DirectoryService service)
    {
        var saved = await service.SaveUserAsync(
            context.Caller(), new UserUpdate(id) { Name = request.Name, Email = request.Email, TimeZone = request.TimeZone, Language = request.Language },
            SaveMode.AddOrChange, context.RequestAborted).ConfigureAwait(false);
        if (saved.Refusal is { } refusal)
        {
            return Refused(refusal);
        }

        var view = UserView.From(saved.Value!.Value);
        return saved.Value.Created ? TypedResults.Created($"/api/v1/users/{view.Id}", view) : TypedResults.Ok(view);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteUserAsync(HttpContext context, string id, DirectoryService service) =>
        await service.RemoveUserAsync(context.Caller(), id, context.RequestAborted).ConfigureAwait(false) is { } refusal ? Refused(refusal) : TypedResults.NoContent();

    private static async Task<Results<Ok<GroupView[]>, ProblemHttpResult>> ListGroupsAsync(HttpContext context, DirectoryService service)
    {
        var groups = await service.ListGroupsAsync(context.Caller(), context.RequestAborted).ConfigureAwait(false);
        return groups.Refusal is { } refusal ? Refused(refusal) : TypedResults.Ok(groups.Value!.Select(GroupView.From).ToArray());
    }

    private static async Task<Results<Ok<GroupView>, ProblemHttpResult>> GetGroupAsync(HttpContext context, string id, DirectoryService service)
    {
        var group = await service.FindGroupAsync(context.Caller(), id, context.RequestAborted).ConfigureAwait(false);
        return group.Refusal is { } refusal ? Refused(refusal) : TypedResults.Ok(GroupView.From(group.Value!));
    }

    private static async Task<Results<Ok<MembersView>, ProblemHttpResult>> GetMembersAsync(HttpContext context, string id, bool? expand, DirectoryService service)
    {
        if (expand == true)
        {
            var users = await service.ExpandGroupAsync(context.Caller(), id, context.RequestAborted).ConfigureAwait(false);
            return users.Refusal is { } refused ? Refused(refused) : TypedResults.Ok(new MembersView(id, true, null, users.Value!.Select(UserView.From).ToArray()));
        }

        var group = await service.FindGroupAsync(context.Caller(), id, context.RequestAborted).ConfigureAwait(false);
        return group.Refusal is { } refusal
            ? Refused(refusal)
            : TypedResults.Ok(new MembersView(id, false, group.Value!.Members.Select(m => m.ToString()).ToArray(), null));
    }

    private static async Task<Results<Ok<GroupView>, Created<GroupView>, ProblemHttpResult>> PutGroupAsync(
        HttpContext context, string id, GroupRequest request, DirectoryService service)
    {
        var saved = await service.SaveGroupAsync(
            context.Caller(), new GroupUpdate(id) { Name = request.Name, Scope = request.Scope, Alias = request.Alias, Delivery = request.Delivery, Members = request.Members },
            SaveMode.AddOrChange, context.RequestAborted).ConfigureAwait(false);
        if (saved.Refusal is { } refusal)
        {
            return Refused(refusal);
        }

        var view = GroupView.From(saved.Value!.Value);
        return saved.Value.Created ? TypedResults.Created($"/api/v1/groups/{view.Id}", view) : TypedResults.Ok(view);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteGroupAsync(HttpContext context, string id, DirectoryService service) =>
        await service.RemoveGroupAsync(context.Caller(), id, context.RequestAborted).ConfigureAwait(false) is { } refusal ? Refused(refusal) : TypedResults.NoContent();

    private static async Task<Results<Ok<ImportResult>, ProblemHttpResult>> ImportAsync(HttpContext context, DirectoryService service)
    {
        var mediaType = context.Request.ContentType?.Split(';')[0].Trim().ToLowerInvariant();
        if (mediaType is not ("application/json" or "text/csv"))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type",
                detail: "Send the import as application/json or text/csv.");
        }

        async Task<DirectoryImport> ReadAsync(CancellationToken cancellationToken) =>
            await ReadBodyAsync(context).ConfigureAwait(false) is not { } text ? DirectoryImport.TooLarge(MaxImportBytes)
            : mediaType == "text/csv" ? DirectoryImport.FromCsv(text)
            : DirectoryImport.FromJson(text);

        var report = await service.ImportAsync(context.Caller(), ReadAsync, context.RequestAborted).ConfigureAwait(false);
        return report.Refusal is { } refusal
            ? Refused(refusal)
            : TypedResults.Ok(new ImportResult(report.Value!.UsersAdded, report.Value.UsersChanged, report.Value.GroupsAdded, report.Value.GroupsChanged));
    }

    /// <summary>The body as UTF-8 text, or null when it is larger than <see cref="MaxImportBytes"/>.</summary>
    private static async Task<string?> ReadBodyAsync(HttpContext context)
    {
        if (context.Request.ContentLength > MaxImportBytes)
        {
            return null;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            // Kestrel's default (30 MB) would cut a large import short; this endpoint counts for itself.
            limit.MaxRequestBodySize = MaxImportBytes + 1;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > MaxImportBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
