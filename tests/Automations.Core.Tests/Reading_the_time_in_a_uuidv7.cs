namespace Automations.Core.Tests;

public class Reading_the_time_in_a_uuidv7
{
    [Fact]
    public void Should_give_back_the_millisecond_the_id_was_made_from()
    {
        var at = new DateTimeOffset(2026, 12, 5, 4, 51, 7, 123, TimeSpan.Zero).AddTicks(4567);
        Assert.Equal(new DateTimeOffset(2026, 12, 5, 4, 51, 7, 123, TimeSpan.Zero), UuidV7.TimeOf(Guid.CreateVersion7(at)));
        Assert.Equal(DateTimeOffset.UnixEpoch.AddMilliseconds(1), UuidV7.TimeOf(Guid.CreateVersion7(DateTimeOffset.UnixEpoch.AddMilliseconds(1))));
    }

    [Fact]
    public void Should_have_none_for_another_version()
    {
        Assert.Null(UuidV7.TimeOf(Guid.NewGuid()));
        Assert.Null(UuidV7.TimeOf(Guid.Empty));
    }
}
