using System.CommandLine;
using System.Globalization;
using Herald.Credentials;
using Herald.Storage.Database;

namespace Herald.Cli;

/// <summary><c>herald backup --to FILE</c> and <c>herald restore --from FILE</c>: the node's
/// SQLite database copied out while serve runs, and placed into an empty data directory. Neither
/// opens the node (a backup changes nothing, not even by migrating; a restore needs the directory
/// empty); <see cref="DatabaseBackup"/> decides.</summary>
internal static class BackupCommands
{
    public static Command CreateBackup(CliConsole console)
    {
        var to = new Option<string>("--to") { Description = "The backup file to write (refused if it exists, unless --force).", Required = true };
        var force = new Option<bool>("--force") { Description = "Replace the file if it exists." };
        var command = new Command("backup", "Copy the node's SQLite database to a file while serve runs: a consistent snapshot, without the credential key.") { to, force };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var (_, database) = Database(parse, console);
            if (database is null)
            {
                return 1;
            }

            var written = await DatabaseBackup.BackupAsync(database, parse.GetValue(to)!, parse.GetValue(force), cancellationToken);
            if (written.Value is not { } copy)
            {
                return Fail(written.Refusal!);
            }

            console.Out.WriteLine($"Wrote {copy.Path}: {Size(copy.SizeBytes)}, schema version {copy.SchemaVersion:D4}, {Count(copy.Messages)} message(s) of which {Count(copy.MessagesQueued)} queued (not yet delivered).");
            console.Out.WriteLine(DatabaseBackup.KeyNotIncluded);
            return 0;
        });
        return command;

        int Fail(Refusal refusal)
        {
            console.Fail(refusal);
            console.Error.WriteLine(DatabaseBackup.KeyNotIncluded);
            return 1;
        }
    }

    public static Command CreateRestore(CliConsole console)
    {
        var from = new Option<string>("--from") { Description = "The backup file (written by herald backup).", Required = true };
        var command = new Command("restore", "Place a backup as the database of an empty data directory (--data-dir), after checking it is a whole Herald database.") { from };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var (dataDirectory, database) = Database(parse, console);
            if (database is null)
            {
                return 1;
            }

            var restored = await DatabaseBackup.RestoreAsync(database, parse.GetValue(from)!, dataDirectory, cancellationToken);
            if (restored.Value is not { } copy)
            {
                console.Fail(restored.Refusal!);
                console.Error.WriteLine(DatabaseBackup.KeyNotIncluded);
                return 1;
            }

            var passphrase = NodePassphrase.ForNode(dataDirectory, console.Environment);
            console.Out.WriteLine($"Restored {copy.Path}: {Size(copy.SizeBytes)}, schema version {copy.SchemaVersion:D4}, {Count(copy.Messages)} message(s) of which {Count(copy.MessagesQueued)} queued; serve delivers them.");
            console.Out.WriteLine(DatabaseBackup.KeyNotIncluded);
            console.Out.WriteLine($"Give this node the key the backup's node had before serving: {NodePassphrase.EnvironmentVariable}, or the key file {passphrase.KeyFilePath} (herald key set writes it).");
            return 0;
        });
        return command;
    }

    // The data directory and database as every verb resolves them (HeraldCli.ResolveNode), without
    // opening the node; the embedded database without creating its directory, which restore must
    // find as the operator left it.
    private static (string DataDirectory, HeraldDatabase? Database) Database(ParseResult parse, CliConsole console)
    {
        if (string.IsNullOrWhiteSpace(parse.GetValue(HeraldCli.Database) ?? console.Environment(HeraldNode.DatabaseVariable)))
        {
            var directory = HeraldNode.ResolveDataDirectory(parse.GetValue(HeraldCli.DataDirectory), console);
            return (directory, new SqliteDatabase(directory, createDirectory: false));
        }

        var (dataDirectory, database, problem) = HeraldCli.ResolveNode(parse, console);
        if (database is null)
        {
            console.Fail(problem!);
        }

        return (dataDirectory, database);
    }

    private static string Size(long bytes) => bytes switch
    {
        < 1024 * 1024 => $"{bytes / 1024.0:0.#} KiB",
        < 1024L * 1024 * 1024 => $"{bytes / (1024.0 * 1024):0.#} MiB",
        _ => $"{bytes / (1024.0 * 1024 * 1024):0.##} GiB",
    };

    private static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
