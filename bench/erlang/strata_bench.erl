%% The workloads of bench/micro (bench/micro/workloads.cpp), in Erlang: the same work, the
%% same result checks, the same JSON lines (bench/common/harness.hpp), with system "erlang".
%%
%%   erl -noshell -pa DIR -s strata_bench main SUITE N
%%
%% A wrong result halts with status 3, like the C++ programs.
-module(strata_bench).
-export([main/1]).

main([Suite, NText]) ->
    N = list_to_integer(atom_to_list(NText)),
    run(atom_to_list(Suite), N),
    halt(0);
main(_) ->
    io:format(standard_error, "usage: -s strata_bench main SUITE N~n", []),
    halt(2).

run("ping-pong", N) ->
    Pong = spawn(fun pong/0),
    Self = self(),
    Start = now_us(),
    spawn(fun() -> Pong ! {ping, self(), N}, ping(Pong, Self, N) end),
    Rounds = receive {done, R} -> R end,
    Us = now_us() - Start,
    expect(Rounds =:= N, "ping-pong made ~p of ~p round trips", [Rounds, N]),
    exit(Pong, kill),
    emit("ping-pong", "round trip", "us", Us / N, lower, 0);
run("counting", N) ->
    Self = self(),
    Counter = spawn(fun() -> counter(0) end),
    Start = now_us(),
    spawn(fun() ->
                  produce(Counter, N),
                  Counter ! {count, self()},
                  receive {total, T} -> Self ! {done, T} end
          end),
    Total = receive {done, T} -> T end,
    Us = now_us() - Start,
    expect(Total =:= N, "counting summed ~p, expected ~p", [Total, N]),
    exit(Counter, kill),
    emit("counting", "messages per second", "M/s", N / Us, higher, 0);
run("fan-in", N) ->
    Self = self(),
    Sink = spawn(fun() -> sink(Self, 2 * N, 0) end),
    Start = now_us(),
    [spawn(fun() -> produce(Sink, N) end) || _ <- [1, 2]],
    Got = receive {done, G} -> G end,
    Us = now_us() - Start,
    expect(Got =:= 2 * N, "fan-in received ~p", [Got]),
    emit("fan-in", "messages per second (2 senders)", "M/s", 2 * N / Us, higher, 0);
run("skynet", N) ->
    case is_power_of_10(N) of
        true -> ok;
        false -> io:format(standard_error, "skynet needs N a power of 10, not ~b~n", [N]), halt(2)
    end,
    Self = self(),
    Start = now_us(),
    spawn(fun() -> skynet(Self, 0, N) end),
    Sum = receive {sum, S} -> S end,
    Us = now_us() - Start,
    Want = N * (N - 1) div 2,
    expect(Sum =:= Want, "skynet summed ~p, expected ~p", [Sum, Want]),
    emit("skynet", "time", "s", Us / 1.0e6, lower, 0);
run("spawn", N) ->
    Before = resident_bytes(),
    Start = now_us(),
    Pids = spawn_idle(N, []),
    SpawnUs = now_us() - Start,
    Grown = resident_bytes() - Before,
    Self = self(),
    Sink = spawn(fun() -> sink(Self, N, 0) end),
    Start2 = now_us(),
    [P ! {ping, Sink} || P <- Pids],
    Answered = receive {done, A} -> A end,
    MessageUs = now_us() - Start2,
    expect(Answered =:= N, "idle processes answered ~p", [Answered]),
    [exit(P, kill) || P <- Pids],
    emit("spawn", "time per spawn", "us", SpawnUs / N, lower, N),
    emit("spawn", "resident bytes per idle actor", "B", Grown / N, lower, N),
    emit("spawn", "time per message to an idle actor", "us", MessageUs / N, lower, N);
run("thread-ring", N) ->
    Self = self(),
    Ring = [spawn(fun() -> ring_member(Self) end) || _ <- lists:seq(1, 503)],
    [P ! {next, Q} || {P, Q} <- lists:zip(Ring, tl(Ring) ++ [hd(Ring)])],
    Start = now_us(),
    hd(Ring) ! {token, N},
    Left = receive {done, L} -> L end,
    Us = now_us() - Start,
    expect(Left =:= 0, "the token went round to 0", []),
    [exit(P, kill) || P <- Ring],
    emit("thread-ring", "hops per second (503 actors)", "M/s", N / Us, higher, 0);
run("chameneos", N) ->
    Self = self(),
    Start = now_us(),
    Mall = spawn(fun() -> mall(Self, N, 100, none, 0, 0, 0) end),
    [spawn(fun() -> Mall ! {meet, self()}, creature(Mall, 0) end) || _ <- lists:seq(1, 100)],
    Met = receive {done, M} -> M end,
    Us = now_us() - Start,
    expect(Met =:= 2 * N, "the creatures met ~p times, expected ~p", [Met, 2 * N]),
    emit("chameneos", "meetings per second (100 creatures)", "M/s", N / Us, higher, 0);
run("big", N) ->
    Self = self(),
    All = [spawn(fun() -> big_start(Self, N, I) end) || I <- lists:seq(1, 120)],
    Peers = list_to_tuple(All),
    Start = now_us(),
    [P ! {go, Peers} || P <- All],
    Total = lists:sum([receive {done, D} -> D end || _ <- All]),
    Us = now_us() - Start,
    expect(Total =:= N * 120, "big answered ~p pings", [Total]),
    [exit(P, kill) || P <- All],
    emit("big", "messages per second (120 actors)", "M/s", 2 * Total / Us, higher, 0);
run("fork-join-throughput", N) ->
    Self = self(),
    % Off-heap queues: what Erlang advises for a process that gets floods; on the heap, every
    % garbage collection of a worker copies its whole queue, and the run takes minutes.
    Workers = [spawn_opt(fun() -> fork_worker(Self, N, 0, 0.0) end,
                         [{message_queue_data, off_heap}]) || _ <- lists:seq(1, 60)],
    Start = now_us(),
    send_rounds(Workers, 0, N),
    Total = lists:sum([receive {done, D} -> D end || _ <- Workers]),
    Us = now_us() - Start,
    expect(Total =:= N * 60, "fork-join handled ~p messages", [Total]),
    emit("fork-join-throughput", "messages per second (60 workers)", "M/s", Total / Us, higher, 0);
run("fork-join-creation", N) ->
    Self = self(),
    Start = now_us(),
    [spawn(fun() -> one_shot(Self) end) ! K || K <- lists:seq(0, N - 1)],
    Total = lists:sum([receive {done, D} -> D end || _ <- lists:seq(1, N)]),
    Us = now_us() - Start,
    expect(Total =:= N, "fork-join creation: ~p answers", [Total]),
    emit("fork-join-creation", "time per actor", "us", Us / N, lower, 0);
run(Suite, _) ->
    io:format(standard_error, "unknown suite '~s'~n", [Suite]),
    halt(2).

ring_member(Done) ->
    receive {next, Next} -> ring_loop(Done, Next) end.

ring_loop(Done, Next) ->
    receive
        {token, 0} -> Done ! {done, 0}, ring_loop(Done, Next);
        {token, Left} -> Next ! {token, Left - 1}, ring_loop(Done, Next)
    end.

%% The mall: pairs creatures until N meetings; then stops every one that comes, and reports
%% the sum of their meetings once all have stopped.
mall(Done, N, Creatures, Waiting, Meetings, Stopped, Total) ->
    receive
        {meet, Who} when Meetings =:= N ->
            Who ! stop,
            mall(Done, N, Creatures, Waiting, Meetings, Stopped, Total);
        {meet, Who} when Waiting =:= none ->
            mall(Done, N, Creatures, Who, Meetings, Stopped, Total);
        {meet, Who} ->
            Waiting ! {mate, Who},
            Who ! {mate, Waiting},
            mall(Done, N, Creatures, none, Meetings + 1, Stopped, Total);
        {done, Met} when Stopped + 1 =:= Creatures ->
            Done ! {done, Total + Met};
        {done, Met} ->
            case Waiting of
                none -> ok;
                _ -> Waiting ! stop
            end,
            mall(Done, N, Creatures, none, Meetings, Stopped + 1, Total + Met)
    end.

creature(Mall, Met) ->
    receive
        {mate, _} -> Mall ! {meet, self()}, creature(Mall, Met + 1);
        stop -> Mall ! {done, Met}
    end.

big_start(Done, N, Seed) ->
    rand:seed(exsss, {Seed, Seed, Seed}),
    receive {go, Peers} -> ping_someone(Peers), big_loop(Done, Peers, N, N) end.

ping_someone(Peers) ->
    element(rand:uniform(tuple_size(Peers)), Peers) ! {ping, self()}.

big_loop(Done, Peers, N, Left) ->
    receive
        {ping, From} -> From ! pong, big_loop(Done, Peers, N, Left);
        pong when Left =:= 1 -> Done ! {done, N}, big_loop(Done, Peers, N, 0);
        pong -> ping_someone(Peers), big_loop(Done, Peers, N, Left - 1)
    end.

work(X) -> work(float(X), 10).
work(R, 0) -> R;
work(R, K) -> work(R * 1.000001 + 0.5, K - 1).

fork_worker(Done, N, N, Sink) -> Done ! {done, N + (case Sink < 0 of true -> 1; false -> 0 end)};
fork_worker(Done, N, Got, Sink) ->
    receive X -> fork_worker(Done, N, Got + 1, Sink + work(X)) end.

send_rounds(_, N, N) -> ok;
send_rounds(Workers, K, N) -> [W ! K || W <- Workers], send_rounds(Workers, K + 1, N).

one_shot(Done) ->
    receive X -> Done ! {done, case work(X) >= 0 of true -> 1; false -> 0 end} end.

pong() ->
    receive
        {ping, From, Left} -> From ! {pong, Left}, pong()
    end.

ping(Pong, Done, N) ->
    receive
        {pong, Left} when Left > 1 -> Pong ! {ping, self(), Left - 1}, ping(Pong, Done, N);
        {pong, _} -> Done ! {done, N}
    end.

counter(Sum) ->
    receive
        {count, From} -> From ! {total, Sum}, counter(Sum);
        X -> counter(Sum + X)
    end.

sink(Done, Expected, Expected) -> Done ! {done, Expected};
sink(Done, Expected, Got) -> receive _ -> sink(Done, Expected, Got + 1) end.

produce(_, 0) -> ok;
produce(Dst, N) -> Dst ! 1, produce(Dst, N - 1).

skynet(Parent, Num, 1) -> Parent ! {sum, Num};
skynet(Parent, Num, Size) ->
    Part = Size div 10,
    Self = self(),
    [spawn(fun() -> skynet(Self, Num + I * Part, Part) end) || I <- lists:seq(0, 9)],
    Parent ! {sum, collect(10, 0)}.

is_power_of_10(1) -> true;
is_power_of_10(N) when N > 1, N rem 10 =:= 0 -> is_power_of_10(N div 10);
is_power_of_10(_) -> false.

collect(0, Sum) -> Sum;
collect(K, Sum) -> receive {sum, X} -> collect(K - 1, Sum + X) end.

idle() ->
    receive
        {ping, Collector} -> Collector ! 1, idle()
    end.

spawn_idle(0, Acc) -> Acc;
spawn_idle(K, Acc) -> spawn_idle(K - 1, [spawn(fun idle/0) | Acc]).

resident_bytes() ->
    {ok, Text} = file:read_file("/proc/self/statm"),
    [_, Resident | _] = string:split(binary_to_list(Text), " ", all),
    list_to_integer(Resident) * 4096.

now_us() -> erlang:monotonic_time(microsecond).

expect(true, _, _) -> ok;
expect(false, Format, Args) ->
    io:format(standard_error, "WRONG RESULT: " ++ Format ++ "~n", Args),
    halt(3).

emit(Suite, Metric, Unit, Value, Better, N) ->
    io:format("{\"suite\":\"~s\",\"system\":\"erlang\",\"metric\":\"~s\",\"unit\":\"~s\","
              "\"value\":~.6g,\"n\":~b,\"better\":\"~s\"}~n",
              [Suite, Metric, Unit, float(Value), N, Better]).
