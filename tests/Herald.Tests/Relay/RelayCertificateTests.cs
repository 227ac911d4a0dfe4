using Herald.Relay;

namespace Herald.Tests.Relay;

public sealed class RelayCertificateTests
{
    [Fact]
    public void Generated_certificate_is_saved_private_and_reused()
    {
        var directory = Directory.CreateTempSubdirectory("herald-cert-").FullName;
        try
        {
            using var first = RelayCertificate.LoadOrCreate(null, null, directory);
            using var second = RelayCertificate.LoadOrCreate(null, null, directory);

            var file = Path.Combine(directory, RelayCertificate.GeneratedFileName);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            Assert.True(first.HasPrivateKey);
            Assert.Equal(first.Thumbprint, second.Thumbprint);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Configured_pfx_file_is_loaded_instead_of_generating_one()
    {
        var generated = Directory.CreateTempSubdirectory("herald-cert-").FullName;
        var other = Directory.CreateTempSubdirectory("herald-cert-").FullName;
        try
        {
            using var original = RelayCertificate.LoadOrCreate(null, "pfx password", generated);

            using var loaded = RelayCertificate.LoadOrCreate(Path.Combine(generated, RelayCertificate.GeneratedFileName), "pfx password", other);

            Assert.Equal(original.Thumbprint, loaded.Thumbprint);
            Assert.Empty(Directory.EnumerateFiles(other));
        }
        finally
        {
            Directory.Delete(generated, recursive: true);
            Directory.Delete(other, recursive: true);
        }
    }
}
