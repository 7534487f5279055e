using System.Net;

namespace Automations.Api.Tests;

public class Managing_launch_jobs_and_queues(ApiFixture fx) : IClassFixture<ApiFixture>
{
    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..6];

    [Fact]
    public async Task Should_create_rename_and_delete_a_queue()
    {
        var name = Unique("gpu");
        var created = await fx.PostAsync("/v1/entities/acme/queues", new { name, description = "A100s" });
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var id = created.Body.GetProperty("id").GetGuid();
        Assert.Contains((await fx.GetAsync("/v1/entities/acme/queues", fx.MemberKey)).Body.EnumerateArray(), q => q.GetProperty("name").GetString() == name);
        Assert.Equal(HttpStatusCode.Conflict, (await fx.PostAsync("/v1/entities/acme/queues", new { name })).Status);
        var renamed = await fx.PutAsync($"/v1/entities/acme/queues/{id}", new { name = name + "-x", description = "H100s" });
        Assert.Equal(HttpStatusCode.OK, renamed.Status);
        Assert.Equal("H100s", (await fx.GetAsync($"/v1/entities/acme/queues/{id}")).Body.GetProperty("description").GetString());
        Assert.Equal(HttpStatusCode.NoContent, (await fx.DeleteAsync($"/v1/entities/acme/queues/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.GetAsync($"/v1/entities/acme/queues/{id}")).Status);
    }

    [Fact]
    public async Task Should_number_job_versions_and_keep_each_run_template()
    {
        var name = Unique("retrain");
        var job = await fx.PostAsync("/v1/entities/acme/jobs", new { name, description = "fine-tune" }, fx.MemberKey);
        Assert.Equal(HttpStatusCode.Created, job.Status);
        var id = job.Body.GetProperty("id").GetGuid();
        var v1 = await fx.PostAsync($"/v1/entities/acme/jobs/{id}/versions", new { command = "python", args = new[] { "train.py", "--lr", "0.1" }, defaultConfig = new { epochs = 3 } }, fx.MemberKey);
        var v2 = await fx.PostAsync($"/v1/entities/acme/jobs/{id}/versions", new { command = "python3" }, fx.MemberKey);
        Assert.Equal((HttpStatusCode.Created, 1, HttpStatusCode.Created, 2), (v1.Status, v1.Body.GetProperty("version").GetInt32(), v2.Status, v2.Body.GetProperty("version").GetInt32()));

        var one = await fx.GetAsync($"/v1/entities/acme/jobs/{id}/versions/1");
        Assert.Equal(["train.py", "--lr", "0.1"], one.Body.GetProperty("args").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(3, one.Body.GetProperty("defaultConfig").GetProperty("epochs").GetInt32());
        var full = await fx.GetAsync($"/v1/entities/acme/jobs/{id}");
        Assert.Equal(2, full.Body.GetProperty("latestVersion").GetInt32());
        Assert.Equal(2, full.Body.GetProperty("versions").GetArrayLength());
        Assert.Equal(HttpStatusCode.NotFound, (await fx.GetAsync($"/v1/entities/acme/jobs/{id}/versions/3")).Status);

        var renamed = await fx.PutAsync($"/v1/entities/acme/jobs/{id}", new { name = name + "-v", description = "x" }, fx.MemberKey);
        Assert.Equal(HttpStatusCode.OK, renamed.Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await fx.DeleteAsync($"/v1/entities/acme/jobs/{id}", fx.MemberKey)).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await fx.DeleteAsync($"/v1/entities/acme/jobs/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.GetAsync($"/v1/entities/acme/jobs/{id}/versions/1")).Status);
    }

    public static TheoryData<string, string, string, string> InvalidBodies() => new()
    {
        { "/queues", "{}", "name", "required" },
        { "/queues", """{"name":"has space"}""", "name", "letters, digits" },
        { "/jobs", "{}", "name", "required" },
        { "/jobs", $$"""{"name":"{{new string('j', 65)}}"}""", "name", "at most 64" },
        { "/jobs", """{"name":"nul-job","description":"a\u0000b"}""", "description", "NUL" },
        { "/queues", """{"name":"nul-queue","description":"a\u0000b"}""", "description", "NUL" },
    };

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task Should_answer_400_naming_the_field(string path, string body, string field, string message)
    {
        var r = await fx.PostAsync("/v1/entities/acme" + path, body);
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.Contains(ApiFixture.ErrorsOf(r.Body, field), e => e.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Should_validate_a_job_version()
    {
        var id = (await fx.PostAsync("/v1/entities/acme/jobs", new { name = Unique("v") })).Body.GetProperty("id").GetGuid();
        var noCommand = await fx.PostAsync($"/v1/entities/acme/jobs/{id}/versions", new { args = new[] { "x" } });
        Assert.Contains(ApiFixture.ErrorsOf(noCommand.Body, "command"), e => e.Contains("required", StringComparison.Ordinal));
        var badConfig = await fx.PostAsync($"/v1/entities/acme/jobs/{id}/versions", """{"command":"python","defaultConfig":[1]}""");
        Assert.Contains(ApiFixture.ErrorsOf(badConfig.Body, "defaultConfig"), e => e.Contains("JSON object", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("""{"command":"python","args":["train.py","a\u0000b"]}""", "args[1]")]
    [InlineData("""{"command":"python","defaultConfig":{"name":"a\u0000b"}}""", "defaultConfig.name")]
    [InlineData("""{"command":"python","defaultConfig":{"a\u0000b":1}}""", "defaultConfig")]
    [InlineData("""{"command":"python","defaultConfig":{"lr":1e400}}""", "defaultConfig.lr")]
    [InlineData("""{"command":"py\u0000thon"}""", "command")]
    public async Task Should_refuse_a_job_version_PostgreSQL_cannot_store_naming_the_field(string body, string field)
    {
        var id = (await fx.PostAsync("/v1/entities/acme/jobs", new { name = Unique("nul") })).Body.GetProperty("id").GetGuid();
        var r = await fx.PostAsync($"/v1/entities/acme/jobs/{id}/versions", body);
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.NotEmpty(ApiFixture.ErrorsOf(r.Body, field));
        Assert.Equal(System.Text.Json.JsonValueKind.Null, (await fx.GetAsync($"/v1/entities/acme/jobs/{id}")).Body.GetProperty("latestVersion").ValueKind);
    }

    [Theory]
    [InlineData("limit=abc", "limit")]
    [InlineData("limit=99999999999", "limit")]
    [InlineData("limit=-1", "limit")]
    [InlineData("state=a%00b", "state")]
    public async Task Should_answer_400_naming_a_bad_parameter_of_the_queue_items(string query, string parameter)
    {
        var queue = (await fx.PostAsync("/v1/entities/acme/queues", new { name = Unique("paged") })).Body.GetProperty("id").GetGuid();
        var r = await fx.GetAsync($"/v1/entities/acme/queues/{queue}/items?{query}");
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.NotEmpty(ApiFixture.ErrorsOf(r.Body, parameter));
    }

    [Fact]
    public async Task Should_refuse_to_delete_a_job_or_queue_an_automation_uses()
    {
        var queue = await fx.PostAsync("/v1/entities/acme/queues", new { name = Unique("q") });
        var job = await fx.PostAsync("/v1/entities/acme/jobs", new { name = Unique("j") });
        var jobId = job.Body.GetProperty("id").GetGuid();
        await fx.PostAsync($"/v1/entities/acme/jobs/{jobId}/versions", new { command = "run" });
        var automation = Unique("launcher");
        Assert.Equal(HttpStatusCode.Created, (await fx.PostAsync("/v1/entities/acme/projects/p1/automations", new
        {
            name = automation,
            @event = new { type = "CREATE_ARTIFACT", collection = "data" },
            action = new { type = "launch", job = job.Body.GetProperty("name").GetString(), jobVersion = 1, queue = queue.Body.GetProperty("name").GetString() },
        })).Status);
        var q = await fx.DeleteAsync($"/v1/entities/acme/queues/{queue.Body.GetProperty("id").GetGuid()}");
        var j = await fx.DeleteAsync($"/v1/entities/acme/jobs/{jobId}");
        Assert.Equal((HttpStatusCode.Conflict, HttpStatusCode.Conflict), (q.Status, j.Status));
        Assert.Contains($"p1/{automation}", q.Body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains($"p1/{automation}", j.Body.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
