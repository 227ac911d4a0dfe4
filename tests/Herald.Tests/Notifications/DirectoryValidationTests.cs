using Herald.Notifications;
using Herald.Settings;

namespace Herald.Tests.Notifications;

/// <summary>The directory's field checks and import parsing, without a database.</summary>
public sealed class DirectoryValidationTests
{
    public static TheoryData<UserUpdate, string, string> BadUsers => new()
    {
        { new UserUpdate("alice") { Email = "alice@example.org" }, "name", "A name is required" },
        { new UserUpdate("alice") { Name = "Alice\nBcc: x", Email = "alice@example.org" }, "name", "on one line" },
        { new UserUpdate("alice") { Name = new string('a', 201), Email = "alice@example.org" }, "name", "1 to 200 characters" },
        { new UserUpdate("alice") { Name = "Alice" }, "email", "An email address is required" },
        { new UserUpdate("alice") { Name = "Alice", Email = "Alice <alice@example.org>" }, "email", "not a valid email address" },
        { new UserUpdate("alice") { Name = "Alice", Email = "alice@example.org", TimeZone = "Mars/Olympus_Mons" }, "timeZone", "'Mars/Olympus_Mons' is not a time zone this machine knows" },
        { new UserUpdate("alice") { Name = "Alice", Email = "alice@example.org", Language = "english please" }, "language", "not a BCP 47 language tag" },
    };

    [Theory]
    [MemberData(nameof(BadUsers))]
    public void A_bad_user_field_is_named_with_the_problem(UserUpdate update, string field, string message)
    {
        var errors = new List<FieldError>();

        Assert.Null(DirectoryService.ApplyUser(null, update, "", errors));

        var error = Assert.Single(errors);
        Assert.Equal(field, error.Field);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_new_user_gets_utc_and_english_and_a_language_tag_is_written_in_its_usual_case()
    {
        var errors = new List<FieldError>();

        var plain = DirectoryService.ApplyUser(null, new UserUpdate("alice") { Name = " Alice ", Email = "alice@example.org" }, "", errors);
        var swiss = DirectoryService.ApplyUser(plain, new UserUpdate("alice") { TimeZone = "Europe/Zurich", Language = "DE-ch" }, "", errors);
        var chinese = DirectoryService.ApplyUser(plain, new UserUpdate("alice") { Language = "zh-hant-tw" }, "", errors);

        Assert.Empty(errors);
        Assert.Equal(("Alice", "UTC", "en"), (plain!.Name, plain.TimeZone, plain.Language));
        Assert.Equal(("Alice", "alice@example.org", "Europe/Zurich", "de-CH"), (swiss!.Name, swiss.Email.Value, swiss.TimeZone, swiss.Language));
        Assert.Equal("zh-Hant-TW", chinese!.Language);
    }

    [Fact]
    public void A_group_delivering_to_its_alias_needs_one_and_bad_members_are_named_by_position()
    {
        var errors = new List<FieldError>();

        DirectoryService.ApplyGroup(null, new GroupUpdate("team") { Name = "Team", Delivery = "both" }, "", errors);
        DirectoryService.ApplyGroup(null, new GroupUpdate("team") { Name = "Team", Delivery = "everyone" }, "", errors);
        DirectoryService.ApplyGroup(null, new GroupUpdate("team") { Name = "Team", Members = ["user:alice", "alice", "group:a b"] }, "groups[2].", errors);
        var ok = DirectoryService.ApplyGroup(null, new GroupUpdate("team") { Name = "Team", Alias = "team@example.org", Delivery = "Alias", Members = ["user:bob", "user:bob"] }, "", errors);

        Assert.Equal(["alias", "delivery", "groups[2].members[1]", "groups[2].members[2]"], errors.Select(e => e.Field));
        Assert.Contains("'both' needs an alias address", errors[0].Message, StringComparison.Ordinal);
        Assert.Contains("write user:<id> or group:<id>", errors[2].Message, StringComparison.Ordinal);
        Assert.Equal((GroupDelivery.Alias, "team@example.org"), (ok!.Delivery, ok.Alias!.Value));
        Assert.Equal([Principal.User("bob")], ok.Members);
    }

    [Fact]
    public void A_membership_that_closes_a_loop_is_named_as_the_cycle()
    {
        (string, string)[] stored = [("b", "c"), ("c", "d")];

        var cycle = DirectoryService.FindCycle(stored, [DirectoryViewTests.Group("d", "user:x", "group:b")]);
        var self = DirectoryService.FindCycle([], [DirectoryViewTests.Group("a", "group:a")]);
        var fine = DirectoryService.FindCycle(stored, [DirectoryViewTests.Group("a", "group:b", "group:c")]);

        Assert.Equal(["d", "b", "c", "d"], cycle);
        Assert.Equal(["a", "a"], self);
        Assert.Null(fine);
    }

    [Fact]
    public void A_csv_import_reads_a_byte_order_mark_quoted_fields_any_column_order_and_names_lines()
    {
        var csv = "\uFEFFid,kind,name,email,members,delivery,alias\r\n"
            + "alice,user,\"Smith, Alice\",alice@example.org,,,\r\n"
            + "\n"
            + "team,group,Team,,user:alice;group:ops  user:bob,both,team@example.org\n"
            + "x,robot,X,,,,\n"
            + "y,user,Y\n";

        var import = DirectoryImport.FromCsv(csv);

        var (userPlace, user) = Assert.Single(import.Users);
        Assert.Equal(("line 2", "alice", "Smith, Alice", "alice@example.org"), (userPlace, user.Id, user.Name, user.Email));
        var (groupPlace, group) = Assert.Single(import.Groups);
        Assert.Equal(("line 4", "both", "team@example.org"), (groupPlace, group.Delivery, group.Alias));
        Assert.Equal(["user:alice", "group:ops", "user:bob"], group.Members);
        Assert.Equal(["line 5.kind", "line 6"], import.Errors.Select(e => e.Field));
    }

    [Fact]
    public void A_csv_import_with_an_unknown_column_or_an_open_quote_is_refused_whole()
    {
        var unknown = DirectoryImport.FromCsv("kind,id,name,phone\nuser,alice,Alice,123\n");
        var open = DirectoryImport.FromCsv("kind,id,name\nuser,alice,\"Alice\n");

        Assert.Contains("Unknown column 'phone'", Assert.Single(unknown.Errors).Message, StringComparison.Ordinal);
        Assert.Empty(unknown.Users);
        Assert.Contains("quoted field is not closed", Assert.Single(open.Errors).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_json_import_reads_users_and_groups_and_refuses_unknown_fields()
    {
        var import = DirectoryImport.FromJson("""
            {"users":[{"id":"alice","name":"Alice","email":"alice@example.org","timeZone":"Europe/Berlin","language":"de"}],
             "groups":[{"id":"team","name":"Team","members":["user:alice"]}]}
            """);
        var unknown = DirectoryImport.FromJson("""{"users":[{"id":"alice","phone":"123"}]}""");
        var broken = DirectoryImport.FromJson("""{"users":[""");

        Assert.Empty(import.Errors);
        Assert.Equal(("users[0]", "Europe/Berlin"), (import.Users[0].Where, import.Users[0].User.TimeZone));
        Assert.Equal(["user:alice"], import.Groups[0].Group.Members);
        Assert.Equal("body", Assert.Single(unknown.Errors).Field);
        Assert.Contains("phone", unknown.Errors[0].Message, StringComparison.Ordinal);
        Assert.Equal("body", Assert.Single(broken.Errors).Field);
    }
}
